/**
 * Store contract: the `housekeeping` group on both engines: each window deletes exactly the rows of
 * its set, and housekeeping run by 3 stores (replicas) at once reaches the same end state as one
 * store alone, with every row deleted once (the deleted counts add up to the rows that went).
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { PruneCutoffs, PruneKey, PruneSet } from "../../../src/storage/housekeeping.ts";
import { ENGINES, n, type ContractStore, type EngineHarness } from "./admin-engines.ts";

const T0 = 1_767_225_600_000;
const DAY = 86_400_000;
const CUTOFFS: PruneCutoffs = { nowMs: T0, endedBeforeMs: T0 - 30 * DAY, idleBeforeMs: T0 - 900_000 };
const ORDER: PruneSet[] = ["expiredRefreshTokens", "endedSessions", "orphanRefreshTokens", "rotatedRecords", "unverifiedMarks"];
const id = (p: string, i: number): string => `${p}${String(i).padStart(3, "0")}`;
const tag = (i: number): Uint8Array => new Uint8Array(16).fill(i % 256).map((b, j) => (j === 0 ? Math.floor(i / 256) : b));

/**
 * 60 sessions: i%4 = 0 ended long ago (goes), 1 ended recently (stays), 2 live but idle with no
 * usable token (goes), 3 live and in use (stays). One refresh token each (every third expired;
 * the idle sessions' tokens revoked), 20 tokens of sessions that never existed, a rotation record
 * and an unverified mark per session (every fifth record expired), 10 marks of missing sessions.
 */
async function seed(h: EngineHarness): Promise<void> {
  const q = (sql: string, p: unknown[]) => h.query(sql, p);
  for (let i = 0; i < 60; i++) {
    const kind = i % 4;
    const revoked = kind === 0 ? T0 - 40 * DAY : kind === 1 ? T0 - 3_600_000 : null;
    const lastUsed = kind === 2 ? T0 - DAY : T0 - 60_000;
    await q("INSERT INTO _sessions (id, user_id, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?)", [id("s", i), "u1", T0 - 50 * DAY, lastUsed, revoked]);
    await q("INSERT INTO _refresh_tokens (token_hash, session_id, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
      [id("t", i), id("s", i), T0 - DAY, i % 3 === 0 ? T0 - 1 : T0 + DAY, kind === 2 ? T0 - DAY : null]);
    await q("INSERT INTO _refresh_rotated (tag, session_id, rotated_at, expires_at) VALUES (?, ?, ?, ?)", [tag(i), id("s", i), T0 - DAY, i % 5 === 0 ? T0 - 1 : T0 + DAY]);
    await q("INSERT INTO _sessions_unverified (session_id, user_id) VALUES (?, ?)", [id("s", i), "u1"]);
  }
  for (let i = 0; i < 20; i++) {
    await q("INSERT INTO _refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)", [id("o", i), id("gone", i), T0 - DAY, T0 + DAY]);
  }
  for (let i = 0; i < 10; i++) await q("INSERT INTO _sessions_unverified (session_id, user_id) VALUES (?, ?)", [id("gone", i), "u1"]);
}

async function walkAll(s: ContractStore, window: number): Promise<number> {
  let deleted = 0;
  for (const set of ORDER) {
    let after: PruneKey = "";
    for (;;) {
      const step = await s.ops.housekeeping.pruneWindow(set, after, window, CUTOFFS);
      if (step === null) break;
      expect(step.examined).toBeLessThanOrEqual(window);
      deleted += step.deleted;
      after = step.last;
    }
  }
  return deleted;
}

async function state(h: EngineHarness): Promise<Record<string, string[]>> {
  const keys = async (sql: string) => (await h.query<{ k: unknown }>(sql)).map((r) => (r.k instanceof Uint8Array ? Buffer.from(r.k).toString("hex") : String(r.k))).sort();
  return {
    sessions: await keys("SELECT id AS k FROM _sessions"),
    tokens: await keys("SELECT token_hash AS k FROM _refresh_tokens"),
    rotated: await keys("SELECT tag AS k FROM _refresh_rotated"),
    unverified: await keys("SELECT session_id AS k FROM _sessions_unverified"),
  };
}

async function total(h: EngineHarness): Promise<number> {
  let sum = 0;
  for (const t of ["_sessions", "_refresh_tokens", "_refresh_rotated", "_sessions_unverified"]) sum += n((await h.query<{ c: unknown }>(`SELECT count(*) AS c FROM ${t}`))[0]!.c);
  return sum;
}

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`housekeeping contract (${engine.name})`, () => {
    const open: EngineHarness[] = [];
    afterEach(async () => {
      for (const h of open.splice(0)) await h.close();
    });
    const harness = async (): Promise<EngineHarness> => {
      const h = await engine.open();
      open.push(h);
      return h;
    };

    it("one store: each set deletes exactly its rows, in windows", async () => {
      const h = await harness();
      await seed(h);
      const before = await total(h);
      const deleted = await walkAll(await h.store(), 7);
      const end = await state(h);
      // Sessions of kinds 1 and 3 stay.
      expect(end.sessions).toEqual(Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 4 === 1 || i % 4 === 3).map((i) => id("s", i)));
      // Their tokens stay unless expired; orphans go.
      expect(end.tokens).toEqual(Array.from({ length: 60 }, (_, i) => i).filter((i) => (i % 4 === 1 || i % 4 === 3) && i % 3 !== 0).map((i) => id("t", i)));
      expect(end.rotated.length).toBe(Array.from({ length: 60 }, (_, i) => i).filter((i) => (i % 4 === 1 || i % 4 === 3) && i % 5 !== 0).length);
      expect(end.unverified).toEqual(end.sessions);
      expect(deleted).toBe(before - (await total(h)));
      // A second pass finds nothing more.
      expect(await walkAll(await h.store(), 7)).toBe(0);
    }, 30_000);

    it("3 stores at once: the same end state as one store, every row deleted once", async () => {
      const alone = await harness();
      await seed(alone);
      await walkAll(await alone.store(), 5);
      const expected = await state(alone);

      const h = await harness();
      await seed(h);
      const before = await total(h);
      const stores = [await h.store(), await h.store(), await h.store()];
      const deleted = await Promise.all(stores.map((s) => walkAll(s, 5)));
      // A row skipped because another store held it is that store's to delete: nothing is missed.
      expect(await state(h)).toEqual(expected);
      expect(deleted.reduce((a, b) => a + b, 0)).toBe(before - (await total(h)));
    }, 30_000);
  });
}
