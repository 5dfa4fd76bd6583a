/**
 * Store contract, `refreshTokens`: the same cases on SQLite and PostgreSQL. Rotation is one atomic
 * operation: first use stores the successor, a retry within the grace gets the same one, a use
 * after the grace ends the session; 20 rotations of one token from 20 connections leave exactly one
 * successor.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import type { RateLimitRule } from "../../../src/config/types.ts";
import type { RotateRequest, RotateResult } from "../../../src/storage/refresh-tokens.ts";
import { addUser, ENGINES, releaseEngines, type ContractStore, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);
const HOUR = 3_600_000;
const sha = (s: string): string => createHash("sha256").update(s).digest("hex");

function request(token: string, nowMs: number, opts: { graceMs?: number; ttlMs?: number; maxAgeMs?: number; perSession?: RateLimitRule | null } = {}): RotateRequest {
  const successor = `${token}+`;
  return {
    hash: sha(token),
    rotatedTag: createHash("sha256").update(token).digest().subarray(0, 16),
    successor,
    successorHash: sha(successor),
    nowMs,
    graceMs: opts.graceMs ?? 10_000,
    ttlMs: opts.ttlMs ?? 24 * HOUR,
    sessionMaxAgeMs: opts.maxAgeMs ?? 30 * 24 * HOUR,
    perSession: opts.perSession ?? null,
  };
}

/** A user with one session and its first refresh token `token`. */
async function sessionWith(store: ContractStore, token: string, opts: { expiresAtMs?: number } = {}): Promise<{ userId: string; sessionId: string }> {
  const user = await addUser(store, `${crypto.randomUUID()}@x.io`);
  const sessionId = crypto.randomUUID();
  await store.sessions.create({ id: sessionId, userId: user.id, nowMs: T0, ip: null, userAgent: null, unverified: false });
  await store.refreshTokens.issue({ hash: sha(token), sessionId, nowMs: T0, expiresAtMs: opts.expiresAtMs ?? T0 + 24 * HOUR });
  return { userId: user.id, sessionId };
}

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: refreshTokens (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<Harness> => (h = await engine.open());

    it("rotates a token into its successor, which rotates in turn; the old one leaves only its compact record", async () => {
      const { store, scalar } = await open();
      const s = await sessionWith(store, "A");
      expect(await store.refreshTokens.rotate(request("A", T0 + 1000))).toEqual({ ok: true, refreshToken: "A+", sessionId: s.sessionId, userId: s.userId });
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?1", [s.sessionId])).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE token_hash = ?1", [sha("A+")])).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_rotated WHERE session_id = ?1", [s.sessionId])).toBe(1);
      expect(await scalar("SELECT last_used_at FROM _sessions WHERE id = ?1", [s.sessionId])).toBe(T0 + 1000);
      expect(await store.refreshTokens.rotate(request("A+", T0 + 2000))).toMatchObject({ ok: true, refreshToken: "A++" });
    });

    it("gives a successor that expires at min(now + ttl, session start + max age)", async () => {
      const { store, scalar } = await open();
      await sessionWith(store, "A");
      await store.refreshTokens.rotate(request("A", T0 + 1000, { ttlMs: HOUR }));
      expect(await scalar("SELECT expires_at FROM _refresh_tokens WHERE token_hash = ?1", [sha("A+")])).toBe(T0 + 1000 + HOUR);
      await store.refreshTokens.rotate(request("A+", T0 + 2000, { ttlMs: 10 * HOUR, maxAgeMs: 2 * HOUR }));
      expect(await scalar("SELECT expires_at FROM _refresh_tokens WHERE token_hash = ?1", [sha("A++")])).toBe(T0 + 2 * HOUR);
    });

    it("answers a retry within the grace with the same successor and stores nothing new", async () => {
      const { store, scalar } = await open();
      const s = await sessionWith(store, "A");
      await store.refreshTokens.rotate(request("A", T0 + 1000));
      expect(await store.refreshTokens.rotate(request("A", T0 + 9000))).toEqual({ ok: true, refreshToken: "A+", sessionId: s.sessionId, userId: s.userId });
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?1", [s.sessionId])).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_rotated WHERE session_id = ?1", [s.sessionId])).toBe(1);
    });

    it("ends the whole session when a rotated token comes back after the grace (reuse)", async () => {
      const { store, scalar } = await open();
      const s = await sessionWith(store, "A");
      await store.refreshTokens.rotate(request("A", T0 + 1000));
      expect(await store.refreshTokens.rotate(request("A", T0 + 11_001))).toEqual({ ok: false, reuse: { sessionId: s.sessionId, userId: s.userId } });
      expect(await scalar("SELECT count(*) AS n FROM _sessions WHERE id = ?1 AND revoke_reason = 'refresh_reuse' AND revoked_at = ?2", [s.sessionId, T0 + 11_001])).toBe(1);
      // The successor died with the session.
      expect(await store.refreshTokens.rotate(request("A+", T0 + 12_000))).toEqual({ ok: false, reuse: null });
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?1 AND revoked_at IS NULL", [s.sessionId])).toBe(0);
    });

    it("refuses an unknown, an expired, a revoked token, an ended session and one past its max age", async () => {
      const { store } = await open();
      const refused: RotateResult = { ok: false, reuse: null };
      expect(await store.refreshTokens.rotate(request("nobody", T0))).toEqual(refused);
      await sessionWith(store, "E", { expiresAtMs: T0 + 5000 });
      expect(await store.refreshTokens.rotate(request("E", T0 + 5000))).toEqual(refused);
      const ended = await sessionWith(store, "R");
      expect(await store.sessions.revoke(ended.sessionId, T0 + 1, "logout")).toBe(true);
      expect(await store.refreshTokens.rotate(request("R", T0 + 2))).toEqual(refused);
      await sessionWith(store, "M");
      expect(await store.refreshTokens.rotate(request("M", T0 + 2 * HOUR, { maxAgeMs: 2 * HOUR }))).toEqual(refused);
      expect(await store.refreshTokens.rotate(request("M", T0 + 2 * HOUR - 1, { maxAgeMs: 2 * HOUR }))).toMatchObject({ ok: true });
    });

    it("counts every use of a live session's token against refresh_per_session, grace retries included", async () => {
      const { store, scalar } = await open();
      const s = await sessionWith(store, "A");
      const perSession = { max: 2, windowSeconds: 60 };
      expect(await store.refreshTokens.rotate(request("A", T0 + 1, { perSession }))).toMatchObject({ ok: true });
      expect(await store.refreshTokens.rotate(request("A", T0 + 2, { perSession }))).toMatchObject({ ok: true, refreshToken: "A+" });
      const limited = await store.refreshTokens.rotate(request("A+", T0 + 3, { perSession }));
      expect(limited).toEqual({ ok: false, reuse: null, limited: { allowed: false, count: 3, retryAfterSeconds: 60 } });
      // Refused by the limit, the token was not rotated: it still works in the next window.
      expect(await store.refreshTokens.rotate(request("A+", T0 + 61_000, { perSession }))).toMatchObject({ ok: true, refreshToken: "A++" });
      expect(await scalar("SELECT count FROM _rate_limits WHERE key = ?1", [`refresh_per_session:${s.sessionId}`])).toBe(1);
    });

    it("20 concurrent rotations of one token from 20 connections: one successor, stored once, counted 20 times", async () => {
      const { store, scalar, replicas } = await open();
      const s = await sessionWith(store, "A");
      const stores = await replicas(20);
      const perSession = { max: 100, windowSeconds: 60 };
      const results = await Promise.allSettled(stores.map((r, i) => r.refreshTokens.rotate(request("A", T0 + 1000 + i, { perSession }))));
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const values = results.map((r) => (r.status === "fulfilled" ? r.value : null));
      // Every caller got the one successor (all within the grace); none was refused.
      expect(values.every((v) => v?.ok === true && v.refreshToken === "A+" && v.sessionId === s.sessionId)).toBe(true);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?1", [s.sessionId])).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE token_hash = ?1", [sha("A+")])).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_rotated WHERE session_id = ?1", [s.sessionId])).toBe(1);
      expect(await scalar("SELECT count FROM _rate_limits WHERE key = ?1", [`refresh_per_session:${s.sessionId}`])).toBe(20);
      expect(await scalar("SELECT count(*) AS n FROM _sessions WHERE id = ?1 AND revoked_at IS NULL", [s.sessionId])).toBe(1);
    });

    it("a reuse racing rotations of the successor from other connections ends the session, without an error, leaving nothing live", async () => {
      const { store, scalar, replicas } = await open();
      const s = await sessionWith(store, "A");
      await store.refreshTokens.rotate(request("A", T0 + 1000));
      const stores = await replicas(16);
      const later = T0 + 20_000; // past the 10 s grace for "A"
      const results = await Promise.allSettled(
        stores.map((r, i) => r.refreshTokens.rotate(request(i % 2 ? "A" : "A+", later + i))),
      );
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const values = results.map((r) => (r.status === "fulfilled" ? r.value : null));
      const reuse = { ok: false, reuse: { sessionId: s.sessionId, userId: s.userId } };
      const refused = { ok: false, reuse: null };
      // The old token: the first use to get in ends the session (reuse); after that the session is gone.
      const old = values.filter((_, i) => i % 2 === 1);
      expect(old.some((v) => JSON.stringify(v) === JSON.stringify(reuse))).toBe(true);
      for (const v of old) expect([JSON.stringify(reuse), JSON.stringify(refused)]).toContain(JSON.stringify(v));
      // The successor: rotated into its own successor before the end of the session, or refused.
      const rotated = { ok: true, refreshToken: "A++", sessionId: s.sessionId, userId: s.userId };
      for (const v of values.filter((_, i) => i % 2 === 0)) expect([JSON.stringify(rotated), JSON.stringify(refused)]).toContain(JSON.stringify(v));
      expect(await scalar("SELECT count(*) AS n FROM _sessions WHERE id = ?1 AND revoked_at IS NULL", [s.sessionId])).toBe(0);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?1 AND revoked_at IS NULL", [s.sessionId])).toBe(0);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?1", [s.sessionId])).toBeLessThanOrEqual(2);
    });
  });
}
