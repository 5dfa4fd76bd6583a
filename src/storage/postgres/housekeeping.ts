/**
 * The `housekeeping` group of the PostgreSQL store: the session tables' clean-up, one window of a
 * table's primary key per call, as in SQLite (src/storage/sqlite/prune-window.ts), safe to run on
 * every replica at once: the window's rows of the set are deleted through `FOR UPDATE SKIP LOCKED`,
 * so replicas walking the same window at the same time take disjoint rows (none is deleted twice,
 * and the counts they return add up), and a row a request holds locked right now is left for the
 * next pass. Each window is one short transaction that does not wait for the WAL flush (the rows
 * it deletes can no longer authenticate anyone: if they come back after a crash they go next time).
 */
import type { HousekeepingOps, PruneCutoffs, PruneKey, PruneSet } from "../housekeeping.ts";
import { atomic, changes, num, rows, tableOf, type PgOpsContext } from "./context.ts";

interface SetSql {
  readonly table: string;
  readonly key: string;
  /** The condition on the table aliased `x`; parameters from $3 on. */
  readonly where: (tbl: (name: string) => string) => string;
  readonly params: (c: PruneCutoffs) => number[];
}

const SETS: Readonly<Record<PruneSet, SetSql>> = {
  expiredRefreshTokens: { table: "_refresh_tokens", key: "token_hash", where: () => "x.expires_at <= $3", params: (c) => [c.nowMs] },
  endedSessions: {
    table: "_sessions",
    key: "id",
    where: (tbl) => `(x.revoked_at IS NOT NULL AND x.revoked_at < $3)
      OR (x.revoked_at IS NULL AND x.last_used_at < $4
          AND NOT EXISTS (SELECT 1 FROM ${tbl("_refresh_tokens")} t WHERE t.session_id = x.id AND t.revoked_at IS NULL))`,
    params: (c) => [c.endedBeforeMs, c.idleBeforeMs],
  },
  orphanRefreshTokens: {
    table: "_refresh_tokens",
    key: "token_hash",
    where: (tbl) => `NOT EXISTS (SELECT 1 FROM ${tbl("_sessions")} s WHERE s.id = x.session_id)`,
    params: () => [],
  },
  rotatedRecords: {
    table: "_refresh_rotated",
    key: "tag",
    where: (tbl) => `x.expires_at <= $3 OR NOT EXISTS (SELECT 1 FROM ${tbl("_sessions")} s WHERE s.id = x.session_id)`,
    params: (c) => [c.nowMs],
  },
  unverifiedMarks: {
    table: "_sessions_unverified",
    key: "session_id",
    where: (tbl) => `NOT EXISTS (SELECT 1 FROM ${tbl("_sessions")} s WHERE s.id = x.session_id)`,
    params: () => [],
  },
};

export function pgHousekeeping(ctx: PgOpsContext): HousekeepingOps {
  const tbl = (name: string): string => tableOf(ctx, name);
  const statements = new Map<PruneSet, { windowEnd: string; del: string }>();
  const statementsOf = (set: PruneSet): { windowEnd: string; del: string } => {
    let s = statements.get(set);
    if (!s) {
      const { table, key, where } = SETS[set];
      const t = tbl(table);
      s = {
        windowEnd: `WITH w AS (SELECT ${key} AS k FROM ${t} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2)
          SELECT k AS last, (SELECT count(*) FROM w) AS n FROM w ORDER BY k DESC LIMIT 1`,
        del: `DELETE FROM ${t} WHERE ${key} IN (SELECT x.${key} FROM ${t} x WHERE x.${key} > $1 AND x.${key} <= $2 AND (${where(tbl)}) FOR UPDATE SKIP LOCKED)`,
      };
      statements.set(set, s);
    }
    return s;
  };
  return {
    settle: async () => undefined,
    pruneWindow: (set, afterKey, windowRows, cutoffs) =>
      atomic(ctx, async (tx) => {
        const { windowEnd, del } = statementsOf(set);
        if (!ctx.inTransaction) await tx.unsafe("SET LOCAL synchronous_commit = off");
        // The first window of a BYTEA key starts before every tag: the empty byte string.
        const after: PruneKey = SETS[set].key === "tag" && afterKey === "" ? new Uint8Array(0) : afterKey;
        const [w] = await rows<{ last: PruneKey; n: unknown }>(tx, windowEnd, [after, windowRows]);
        if (!w) return null;
        const last = w.last instanceof Uint8Array ? new Uint8Array(w.last) : w.last;
        const deleted = await changes(tx, del, [after, last, ...SETS[set].params(cutoffs)]);
        return { last, examined: num(w.n), deleted };
      }),
  };
}
