/**
 * Housekeeping deletes in short transactions: with many expired refresh tokens, no single
 * transaction touches more than HOUSEKEEPING_BATCH_ROWS rows, and other writes run between two
 * transactions. Asserted on batch sizes and interleaving, not on timing.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, signUp } from "../helpers/auth.ts";
import { pruneSessions } from "../../src/modules/session/sessions.ts";
import { statSync } from "node:fs";
import { isWatched, WAL_SIZE_LIMIT_BYTES } from "../../src/storage/sqlite/checkpointer.ts";
import {
  HOUSEKEEPING_MAX_PAUSE_MS,
  HOUSEKEEPING_SETTLE_ROWS,
  inWindows,
  MIN_WINDOW_ROWS,
  pruneSessionsInBatches,
  runHousekeeping,
  type HousekeepingBatch,
} from "../../src/projects/housekeeping.ts";

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
    // The connection is still synchronous=FULL (SPEC §4): the clean-up's windows commit with it.
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
    // Rotation records (expired, live, of deleted and of kept sessions) and unverified marks.
    const rotated = db.prepare("INSERT INTO _refresh_rotated(tag, session_id, rotated_at, expires_at) VALUES (?, ?, ?, ?)");
    const unverified = db.prepare("INSERT INTO _sessions_unverified(session_id, user_id) VALUES (?, ?)");
    db.transaction(() => {
      for (let i = 0; i < 1_200; i += 3) {
        const sid = `s-${String(i).padStart(7, "0")}`;
        rotated.run(new Bun.CryptoHasher("sha256").update(`r${i}`).digest().subarray(0, 16), sid, t.clock.now - 5 * DAY, i % 2 ? t.clock.now - DAY : t.clock.now + DAY);
        unverified.run(sid, user.user.id);
      }
    })();
    const snapshot = (): string => JSON.stringify([
      db.query("SELECT id FROM _sessions ORDER BY id").all(),
      db.query("SELECT token_hash FROM _refresh_tokens ORDER BY token_hash").all(),
      db.query("SELECT hex(tag) AS tag FROM _refresh_rotated ORDER BY tag").all(),
      db.query("SELECT session_id FROM _sessions_unverified ORDER BY session_id").all(),
    ]);
    const before = snapshot();
    db.exec("SAVEPOINT compare");
    const expected = await pruneSessions(t.booted.projects.get("demo")!, t.clock.now);
    const after = snapshot();
    db.exec("ROLLBACK TO compare; RELEASE compare");
    const got = await pruneSessionsInBatches(t.booted.projects.get("demo")!, t.clock.now, { batchRows: 128 });
    expect(got).toEqual(expected);
    expect(snapshot()).toBe(after);
    expect(after).not.toBe(before);
    expect(count(t, "_refresh_rotated")).toBeGreaterThan(0);
    expect(count(t, "_refresh_rotated")).toBeLessThan(400);
  });

  it("deletes ended rate-limit counters and old audit rows in short transactions too", async () => {
    inst = await createTestInstance([
      { ...authSpec({ auth: { rate_limits: { signup_per_ip: "off", login_failures_per_account: { max: 5, window: "15m" } } } }), audit: { retention: "30d" } },
    ]);
    const t = inst;
    await signUp(t, "owner@example.com");
    const p = t.booted.projects.get("demo")!;
    const db = p.db;
    const now = t.clock.now;
    const counter = db.prepare("INSERT INTO _rate_limits(key, window_start, count) VALUES (?, ?, 1)");
    const audit = db.prepare("INSERT INTO _audit(at, type, details) VALUES (?, 'login_failed', '{}')");
    db.transaction(() => {
      for (let i = 0; i < 3_000; i++) {
        // Ended (16 minutes old) and running (1 minute old) counters, interleaved in key order.
        counter.run(`login_failures_per_account:${String(i).padStart(5, "0")}@example.com`, now - (i % 3 === 0 ? 60_000 : 16 * 60_000));
        // Audit rows 40 days old (past the 30-day retention) and 10 days old.
        audit.run(now - (i % 4 === 0 ? 10 : 40) * DAY + i);
      }
      counter.run("no_such_rule:x", now - 40 * DAY); // under no rule: kept 31 days at most
      counter.run("no_such_rule:y", now - DAY);
    })();
    const countersBefore = count(t, "_rate_limits");
    const auditBefore = count(t, "_audit");
    const batches: HousekeepingBatch[] = [];
    let writes = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await signUp(t, `during${i}@example.com`);
        writes++;
      }
    })();
    const removed = await runHousekeeping(p, { batchRows: 250, onBatch: (b) => batches.push(b) });
    stop = true;
    await writer;

    expect(removed.rateLimitCounters).toBe(2_000 + 1);
    expect(removed.auditRows).toBe(2_250);
    expect(count(t, "_rate_limits")).toBe(countersBefore - 2_001);
    expect(count(t, "_audit")).toBeGreaterThanOrEqual(auditBefore - 2_250);
    expect((db.query("SELECT count(*) AS n FROM _audit WHERE at < ?").get(now - 30 * DAY) as { n: number }).n).toBe(0);
    expect((db.query("SELECT count(*) AS n FROM _rate_limits WHERE key LIKE 'login_failures_per_account:%' AND window_start <= ?").get(now - 15 * 60_000) as { n: number }).n).toBe(0);
    expect(db.query("SELECT key FROM _rate_limits WHERE key LIKE 'no_such_rule:%'").all()).toEqual([{ key: "no_such_rule:y" }]);
    for (const table of ["_rate_limits", "_audit"] as const) {
      const mine = batches.filter((b) => b.table === table);
      expect(mine.length).toBeGreaterThanOrEqual(Math.ceil(2_000 / 250));
      for (const b of mine) {
        expect(b.examined).toBeLessThanOrEqual(250);
        expect(b.deleted).toBeLessThanOrEqual(b.examined);
      }
    }
    expect(writes).toBeGreaterThan(0);
    expect((db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
  });
});

describe("the bounded housekeeping window", () => {
  it("halves the next window after one over its budget, never passes the batch size, and pauses longer while windows stay slow", async () => {
    // A step costing 0.25 ms per row (at least: a sleep never ends early): 128 rows take 32 ms,
    // four times the 8 ms budget, so the controller has to shrink the window.
    const BUDGET = 8;
    const BATCH = 1_000;
    let left = 3_000;
    const calls: { window: number; start: number; end: number }[] = [];
    const batches: HousekeepingBatch[] = [];
    await inWindows("_refresh_tokens", { batchRows: BATCH, budgetMs: BUDGET, onBatch: (b) => batches.push(b) }, async (window) => {
      const start = performance.now();
      await Bun.sleep(window * 0.25);
      const n = Math.min(window, left);
      left -= n;
      calls.push({ window, start, end: performance.now() });
      return { examined: n, deleted: n, more: left > 0 };
    });
    expect(left).toBe(0);
    expect(batches.length).toBe(calls.length);
    expect(calls[0].window).toBe(128);
    // Windows over the budget happened (the first one at least), and every one was followed by a
    // window half its size (not below the minimum) and by a pause at least twice its own time.
    const over = batches.map((b, i) => ({ b, i })).filter(({ b, i }) => b.ms > BUDGET && i + 1 < calls.length);
    expect(over.length).toBeGreaterThan(0);
    for (const { b, i } of over) {
      expect({ i, next: calls[i + 1].window }).toEqual({ i, next: Math.max(MIN_WINDOW_ROWS, Math.floor(calls[i].window / 2)) });
      expect(b.pauseMs).toBeGreaterThanOrEqual(Math.min(HOUSEKEEPING_MAX_PAUSE_MS, 2 * b.ms));
    }
    for (let i = 0; i < calls.length; i++) {
      expect(calls[i].window).toBeLessThanOrEqual(BATCH);
      expect(calls[i].window).toBeGreaterThanOrEqual(MIN_WINDOW_ROWS);
      if (i + 1 < calls.length) {
        // The event loop is free between two windows for at least as long as the last one took.
        expect(batches[i].pauseMs).toBeGreaterThanOrEqual(Math.min(HOUSEKEEPING_MAX_PAUSE_MS, Math.floor(batches[i].ms)));
        expect(calls[i + 1].start - calls[i].end).toBeGreaterThanOrEqual(batches[i].pauseMs - 1);
      }
    }
    // It settles on windows that fit the budget: most of the rows went in windows of 16 or 32.
    expect(Math.max(...calls.slice(-20).map((c) => c.window))).toBeLessThanOrEqual(64);
  });

  it("on a seeded project database, windows that cannot meet their budget fall to the minimum size and no window passes the batch", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "30d", access_token_ttl: "1h" } })]);
    const t = inst;
    const user = await signUp(t, "owner@example.com");
    seed(t, user.user.id, 1_000, 400);
    const p = t.booted.projects.get("demo")!;
    const batches: HousekeepingBatch[] = [];
    // A budget of 0 ms: every real transaction is over it.
    const removed = await pruneSessionsInBatches(p, t.clock.now, { batchRows: 500, budgetMs: 0, congestionBackoff: false, onBatch: (b) => batches.push(b) });
    expect(removed).toEqual({ sessions: 400, refreshTokens: 400 });
    // The first walk of _refresh_tokens (expired tokens; the orphan walk comes after the sessions'):
    // 1,001 tokens (the owner's too) looked at 128, 64, 32, then 16 at a time.
    const walks = batches.map((b) => `${b.table}:${b.examined}`);
    const expiredWalk = batches.slice(0, walks.findIndex((w) => w.startsWith("_sessions:"))).map((b) => b.examined);
    expect(expiredWalk.reduce((a, n) => a + n, 0)).toBe(1_001);
    expect(expiredWalk.slice(0, 4)).toEqual([128, 64, 32, 16]);
    expect(expiredWalk.slice(3, -1).every((n) => n === MIN_WINDOW_ROWS)).toBe(true);
    expect(expiredWalk.at(-1)).toBeLessThanOrEqual(MIN_WINDOW_ROWS);
    for (const b of batches) {
      expect(b.examined).toBeLessThanOrEqual(500);
      expect(b.deleted).toBeLessThanOrEqual(b.examined);
      expect(b.ms).toBeGreaterThan(0);
    }
    expect(count(t, "_refresh_tokens")).toBe(601);
  });
});

describe("housekeeping and the WAL", () => {
  it("settles the WAL as it goes: the log never grows past its size limit while 20,000 expired tokens are deleted", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "30d", access_token_ttl: "1h" } })]);
    const t = inst;
    const user = await signUp(t, "owner@example.com");
    seed(t, user.user.id, 20_000, 20_000);
    const p = t.booted.projects.get("demo")!;
    const wal = `${p.db.filename}-wal`;
    expect(isWatched(p.db)).toBe(true);
    let settles = 0;
    let largest = 0;
    const removed = await pruneSessionsInBatches(p, t.clock.now, {
      settle: async () => {
        settles++;
        await p.store.housekeeping.settle();
      },
      onBatch: () => {
        largest = Math.max(largest, statSync(wal).size);
      },
    });
    expect(removed.refreshTokens).toBe(20_000);
    // Each deleted token writes about a page (4 KiB) to the WAL: 80 MB in all, written in
    // HOUSEKEEPING_SETTLE_ROWS shares, each checkpointed before the next one.
    expect(settles).toBeGreaterThanOrEqual(Math.floor(20_000 / HOUSEKEEPING_SETTLE_ROWS));
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
  }, 60_000);
});
