import type { Database, Statement } from "bun:sqlite";
import type { HousekeepingOps, PruneCutoffs, PruneSet } from "../housekeeping.ts";
import type { Sync } from "./store.ts";

interface SetSql {
  readonly table: "_refresh_tokens" | "_sessions";
  readonly key: string;
  readonly where: string;
  readonly params: (c: PruneCutoffs) => number[];
}

const SETS: Readonly<Record<PruneSet, SetSql>> = {
  expiredRefreshTokens: { table: "_refresh_tokens", key: "token_hash", where: "expires_at <= ?3", params: (c) => [c.nowMs] },
  endedSessions: {
    table: "_sessions",
    key: "id",
    where: `(revoked_at IS NOT NULL AND revoked_at < ?3)
      OR (revoked_at IS NULL AND last_used_at < ?4
          AND NOT EXISTS (SELECT 1 FROM _refresh_tokens t WHERE t.session_id = _sessions.id AND t.revoked_at IS NULL))`,
    params: (c) => [c.endedBeforeMs, c.idleBeforeMs],
  },
  orphanRefreshTokens: {
    table: "_refresh_tokens",
    key: "token_hash",
    where: "NOT EXISTS (SELECT 1 FROM _sessions s WHERE s.id = _refresh_tokens.session_id)",
    params: () => [],
  },
};

export function createHousekeeping(db: Database): Sync<HousekeepingOps> {
  const prepared = new Map<PruneSet, { windowEnd: Statement; del: Statement }>();
  const statementsOf = (set: PruneSet): { windowEnd: Statement; del: Statement } => {
    let s = prepared.get(set);
    if (!s) {
      const { table, key, where } = SETS[set];
      s = {
        windowEnd: db.prepare(`SELECT max(k) AS last, count(*) AS n FROM (SELECT ${key} AS k FROM ${table} WHERE ${key} > ?1 ORDER BY ${key} LIMIT ?2)`),
        del: db.prepare(`DELETE FROM ${table} WHERE ${key} > ?1 AND ${key} <= ?2 AND (${where})`),
      };
      prepared.set(set, s);
    }
    return s;
  };
  return {
    pruneWindow(set, afterKey, windowRows, cutoffs) {
      const { windowEnd, del } = statementsOf(set);
      // Deleting rows that can no longer authenticate anyone needs no fsync of its own: if power
      // fails they are deleted again next time. The connection is back to synchronous=FULL before
      // anything else can run on it (bun:sqlite is synchronous), and the next FULL commit's fsync
      // makes these frames durable with its own. Inside a caller's transaction the pragma would
      // not apply to this step alone, so it is left as it is there.
      const relax = !db.inTransaction;
      if (relax) db.exec("PRAGMA synchronous=NORMAL");
      try {
        return db.transaction(() => {
          const w = windowEnd.get(afterKey, windowRows) as { last: string | null; n: number };
          if (w.last === null) return null;
          const deleted = del.run(afterKey, w.last, ...SETS[set].params(cutoffs)).changes;
          return { last: w.last, examined: w.n, deleted };
        }).immediate();
      } finally {
        if (relax) db.exec("PRAGMA synchronous=FULL");
      }
    },
  };
}
