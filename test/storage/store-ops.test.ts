/**
 * The end-user operation groups of the SQLite store, through `p.store` as the services use them:
 * the race-sensitive operations are single atomic steps, a transaction commits or rolls back as a
 * whole, and the write-lock probe sees another connection's lock.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, dbOf, runtimeOf, signUp } from "../helpers/auth.ts";
import { rotateRefreshToken } from "../../src/modules/session/refresh-tokens.ts";

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

async function instance(spec = authSpec()): Promise<TestInstance> {
  inst = await createTestInstance([spec]);
  return inst;
}

describe("store operations (SQLite)", () => {
  it("rotates a refresh token once: concurrent rotations share one successor, one live row", async () => {
    const t = await instance();
    const s = await signUp(t, "a@x.io");
    const p = runtimeOf(t);
    const results = await Promise.all(Array.from({ length: 5 }, () => rotateRefreshToken(p, s.refresh_token, t.clock.now)));
    const successors = new Set(results.map((r) => (r.ok ? r.refreshToken : null)));
    expect(successors.size).toBe(1);
    expect(successors.has(null)).toBe(false);
    const live = dbOf(t).query("SELECT count(*) AS n FROM _refresh_tokens WHERE revoked_at IS NULL").get() as { n: number };
    expect(live.n).toBe(1);
  });

  it("ends the session when a rotated token is used after the grace", async () => {
    const t = await instance(authSpec({ auth: { refresh_reuse_grace: "10s" } }));
    const s = await signUp(t, "a@x.io");
    const p = runtimeOf(t);
    const first = await rotateRefreshToken(p, s.refresh_token, t.clock.now);
    expect(first.ok).toBe(true);
    t.clock.advance(11_000);
    const again = await rotateRefreshToken(p, s.refresh_token, t.clock.now);
    expect(again).toMatchObject({ ok: false, reuse: { userId: s.user.id } });
    const session = dbOf(t).query("SELECT revoke_reason FROM _sessions WHERE user_id = ?").get(s.user.id) as { revoke_reason: string };
    expect(session.revoke_reason).toBe("refresh_reuse");
  });

  it("consumes a link token exactly once, however many ask at the same time", async () => {
    const t = await instance();
    const s = await signUp(t, "a@x.io");
    const p = runtimeOf(t);
    const nowMs = t.clock.now;
    await p.store.linkTokens.issue({ id: "tok1", hash: "h1", kind: "reset", userId: s.user.id, email: "a@x.io", nowMs, expiresAtMs: nowMs + 60_000 });
    const got = await Promise.all(Array.from({ length: 4 }, () => p.store.linkTokens.consume("reset", "h1", nowMs)));
    expect(got.filter((g) => g !== null)).toEqual([{ id: "tok1", userId: s.user.id, email: "a@x.io" }]);
    expect(await p.store.linkTokens.consume("verify", "h1", nowMs)).toBeNull();
  });

  it("claims an outbox attempt only once", async () => {
    const t = await instance();
    const p = runtimeOf(t);
    const nowMs = t.clock.now;
    await p.store.outbox.enqueue({ id: "m1", template: "password_changed", to: "a@x.io", payload: "{}", nowMs });
    const [row] = await p.store.outbox.due(nowMs, 10);
    expect(row).toMatchObject({ id: "m1", attempts: 0 });
    const claims = await Promise.all([p.store.outbox.claim("m1", 0, nowMs + 5_000), p.store.outbox.claim("m1", 0, nowMs + 5_000)]);
    expect(claims.sort()).toEqual([false, true]);
    expect(await p.store.outbox.due(nowMs, 10)).toEqual([]);
  });

  it("counts rate-limit hits atomically and takes one back", async () => {
    const t = await instance();
    const p = runtimeOf(t);
    const rule = { max: 3, windowSeconds: 60 };
    const hits = await Promise.all(Array.from({ length: 5 }, () => p.store.rateLimits.hit("k", rule, t.clock.now)));
    expect(hits.map((h) => h.count).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(hits.filter((h) => h.allowed).length).toBe(3);
    await p.store.rateLimits.undo("k");
    expect((await p.store.rateLimits.peek("k", rule, t.clock.now)).count).toBe(4);
    await p.store.rateLimits.clear("k");
    expect((await p.store.rateLimits.peek("k", rule, t.clock.now)).count).toBe(0);
  });

  it("rolls a transaction back as a whole when its function throws", async () => {
    const t = await instance();
    const s = await signUp(t, "a@x.io");
    const p = runtimeOf(t);
    const nowMs = t.clock.now;
    await expect(
      p.store.transaction(async (tx) => {
        await tx.users.setBan(s.user.id, { nowMs, untilMs: null, reason: "r" });
        await tx.sessions.revokeUser(s.user.id, nowMs, { reason: "banned" });
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect((await p.store.users.status(s.user.id)).bannedAt).toBeNull();
    expect(await p.store.sessions.listLive(s.user.id, nowMs)).toHaveLength(1);
  });

  it("refuses to delete a user a restrict reference points at, naming the table", async () => {
    const spec = authSpec();
    (spec.tables as Record<string, unknown>).notes = { columns: { owner: "ref users required" } };
    const t = await instance(spec);
    const s = await signUp(t, "a@x.io");
    const p = runtimeOf(t);
    dbOf(t).query("INSERT INTO notes(id, created_at, updated_at, owner) VALUES ('n1', 'x', 'x', ?)").run(s.user.id);
    expect(await p.store.users.remove(s.user.id)).toEqual({ ok: false, restrictedBy: "notes" });
    expect(await p.store.users.findById(s.user.id)).not.toBeNull();
    dbOf(t).query("DELETE FROM notes").run();
    expect(await p.store.users.remove(s.user.id)).toEqual({ ok: true });
    expect(await p.store.users.findById(s.user.id)).toBeNull();
    expect(dbOf(t).query("SELECT count(*) AS n FROM _sessions").get()).toEqual({ n: 0 });
  });

  it("sees another connection's write lock, and not its own", async () => {
    const t = await instance();
    const p = runtimeOf(t);
    expect(await p.store.writeLockedElsewhere()).toBe(false);
    const other = new Database(join(t.dataDir, "demo.db"));
    try {
      other.run("BEGIN IMMEDIATE");
      expect(await p.store.writeLockedElsewhere()).toBe(true);
      other.run("ROLLBACK");
      expect(await p.store.writeLockedElsewhere()).toBe(false);
      await p.store.transaction(async () => {
        expect(await p.store.writeLockedElsewhere()).toBe(false);
      });
    } finally {
      other.close();
    }
  });
});
