/**
 * Housekeeping deletes in short transactions: with many expired refresh tokens, no single
 * transaction touches more than HOUSEKEEPING_BATCH_ROWS rows, and other writes run between two
 * transactions. Asserted on batch sizes and interleaving, not on timing.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, signUp } from "../helpers/auth.ts";
import { pruneSessions } from "../../src/modules/session/sessions.ts";
import { pruneSessionsInBatches, type HousekeepingBatch } from "../../src/projects/housekeeping.ts";

const DAY = 86_400_000;
let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

/** Seeds `n` sessions, each with one refresh token, directly in the database; `expired` of them long expired. */
function seed(t: TestInstance, userId: string, n: number, expired: number): void {
  const db = t.booted.projects.get("demo")!.db;
  const now = t.clock.now;
  const session = db.prepare("INSERT INTO _sessions(id, user_id, created_at, last_used_at) VALUES (?, ?, ?, ?)");
  const token = db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const old = i < expired;
      const at = old ? now - 40 * DAY : now;
      const sid = `s-${String(i).padStart(7, "0")}`;
      session.run(sid, userId, at, at);
      // Hashes spread over the key space, so expired and live rows are interleaved.
      token.run(new Bun.CryptoHasher("sha256").update(String(i)).digest("hex"), sid, at, old ? now - 10 * DAY : now + 20 * DAY);
    }
  })();
}

function count(t: TestInstance, table: string): number {
  return (t.booted.projects.get("demo")!.db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

describe("housekeeping in batches", () => {
  it("never deletes more than one batch per transaction, and lets other writes in between", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "30d", access_token_ttl: "1h", rate_limits: { signup_per_ip: "off" } } })]);
    const t = inst;
    const user = await signUp(t, "owner@example.com");
    seed(t, user.user.id, 5_000, 3_000);
    const p = t.booted.projects.get("demo")!;
    const batches: HousekeepingBatch[] = [];
    // A concurrent writer: one signup per event-loop turn while the clean-up runs.
    let stop = false;
    const signupsDuring: number[] = [];
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await signUp(t, `during${i}@example.com`);
        signupsDuring.push(batches.length);
      }
    })();
    const removed = await pruneSessionsInBatches(p, t.clock.now, { batchRows: 500, onBatch: (b) => batches.push(b) });
    stop = true;
    await writer;

    expect(removed).toEqual({ sessions: 3_000, refreshTokens: 3_000 });
    // The clean-up's own transactions skip the fsync; the connection is back to FULL (SPEC §4).
    expect((p.db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
    expect(count(t, "_refresh_tokens")).toBe(2_000 + 1 + signupsDuring.length);
    // Every transaction looked at 500 rows at most and deleted no more than it looked at.
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(5_000 / 500) * 2);
    for (const b of batches) {
      expect(b.examined).toBeLessThanOrEqual(500);
      expect(b.deleted).toBeLessThanOrEqual(b.examined);
    }
    expect(Math.max(...batches.map((b) => b.deleted))).toBeGreaterThan(0);
    // Signups committed while the clean-up was between two of its transactions, not only after it.
    expect(signupsDuring.some((n) => n > 0 && n < batches.length)).toBe(true);
  });

  it("removes exactly what the one-transaction prune removes", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "30d", access_token_ttl: "1h" } })]);
    const t = inst;
    const user = await signUp(t, "owner@example.com");
    seed(t, user.user.id, 1_200, 700);
    const db = t.booted.projects.get("demo")!.db;
    const snapshot = (): string => JSON.stringify([
      db.query("SELECT id FROM _sessions ORDER BY id").all(),
      db.query("SELECT token_hash FROM _refresh_tokens ORDER BY token_hash").all(),
    ]);
    db.exec("SAVEPOINT compare");
    const expected = await pruneSessions(t.booted.projects.get("demo")!, t.clock.now);
    const after = snapshot();
    db.exec("ROLLBACK TO compare; RELEASE compare");
    const got = await pruneSessionsInBatches(t.booted.projects.get("demo")!, t.clock.now, { batchRows: 128 });
    expect(got).toEqual(expected);
    expect(snapshot()).toBe(after);
  });
});
