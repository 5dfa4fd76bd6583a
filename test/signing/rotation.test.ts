/**
 * Scheduled key rotation (SPEC 13) on an injected clock, through more than three rotations, seen
 * by a verifier that refetches the JWKS every 5 minutes, with restarts in between; then the
 * emergency switch.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, expectError, signUp } from "../helpers/auth.ts";

const ADMIN_KEY = "sk_rotationTestAdminKey0123456789abcdefXYZ";
const MINUTE = 60_000;
const TTL_MS = 15 * MINUTE;
const ROTATE_EVERY_MS = 60 * MINUTE;
const LEAD_MS = TTL_MS + 5 * MINUTE;
const ISSUER = "http://127.0.0.1:8080/p/demo";

const spec = authSpec({ auth: { access_token_ttl: "15m", signing: { algorithm: "EdDSA", rotate_every: "1h" } } });
spec.keys = { admin: ADMIN_KEY };

interface Issued {
  token: string;
  kid: string;
  expMs: number;
}

describe("scheduled rotation on the server clock", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([spec]);
  });
  afterAll(() => inst.close());

  const jwks = async (): Promise<JSONWebKeySet> => (await inst.req("GET", "/p/demo/.well-known/jwks.json")).body as JSONWebKeySet;
  const verifyWith = (set: JSONWebKeySet, token: string) =>
    jwtVerify(token, createLocalJWKSet(set), { issuer: ISSUER, audience: "demo", algorithms: ["EdDSA"], currentDate: new Date(inst.clock.now) });

  it("publishes before use, keeps until expired, never shows a 5-minute verifier an unknown kid, and survives restarts", async () => {
    const session = await signUp(inst, "rotate@example.com");
    let refreshToken = session.refresh_token;
    const start = inst.clock.now;
    const issued: Issued[] = [];
    const firstPublished = new Map<string, number>();
    const firstSigned = new Map<string, number>();
    let cached: JSONWebKeySet = await jwks();
    let fetchedAt = inst.clock.now;
    let restarts = 0;

    for (let minute = 0; minute <= 4 * 60 + 40; minute++) {
      inst.clock.now = start + minute * MINUTE;
      if (minute === 47 || minute === 101 || minute === 170 || minute === 222) {
        // Restarts right around the schedule's moments: nothing may change.
        const before = await jwks();
        await inst.restart();
        restarts++;
        expect(await jwks()).toEqual(before);
      }
      const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refreshToken } });
      expect(r.status).toBe(200);
      refreshToken = r.body.data.refresh_token;
      const token = r.body.data.token as string;
      const kid = decodeProtectedHeader(token).kid!;
      issued.push({ token, kid, expMs: inst.clock.now + TTL_MS });
      if (!firstSigned.has(kid)) firstSigned.set(kid, inst.clock.now);

      const fresh = await jwks();
      for (const k of fresh.keys) if (!firstPublished.has(k.kid!)) firstPublished.set(k.kid!, inst.clock.now);

      if (inst.clock.now - fetchedAt >= 5 * MINUTE) {
        cached = fresh;
        fetchedAt = inst.clock.now;
      }
      // The verifier with its (up to 5 minutes old) JWKS accepts every token still valid.
      const live = issued.filter((i) => i.expMs > inst.clock.now);
      for (const i of live) {
        const known = cached.keys.some((k) => k.kid === i.kid);
        if (!known) throw new Error(`minute ${minute}: a verifier cached ${(inst.clock.now - fetchedAt) / MINUTE} min ago meets unknown kid ${i.kid}`);
        await verifyWith(cached, i.token);
      }
      // Latchkey itself accepts the oldest token still valid (signed, perhaps, by a retired key).
      expect((await inst.req("GET", "/p/demo/auth/me", { token: live[0].token })).status).toBe(200);
      // A retired key stays published while a token it signed is valid, and leaves once they all
      // expired (tokens here are sampled once a minute, the last one up to a minute before retirement).
      const publishedKids = new Set(fresh.keys.map((k) => k.kid));
      for (const [k] of firstSigned) {
        const lastExp = Math.max(...issued.filter((i) => i.kid === k).map((i) => i.expMs));
        if (inst.clock.now < lastExp) expect(publishedKids.has(k)).toBe(true);
        if (inst.clock.now >= lastExp + MINUTE) expect(publishedKids.has(k)).toBe(false);
      }
      expect(fresh.keys.length).toBeLessThanOrEqual(3);
    }

    const kids = [...firstSigned.keys()];
    // Four hours and forty minutes at one rotation per hour: the first key and four successors.
    expect(kids.length).toBeGreaterThanOrEqual(4);
    for (const kid of kids.slice(1)) {
      // Publish-before-use: every successor was in the JWKS access_token_ttl + 5 min before it signed.
      expect(firstSigned.get(kid)! - firstPublished.get(kid)!).toBeGreaterThanOrEqual(LEAD_MS);
    }
    // Each successor signs rotate_every after the one before it.
    for (let i = 2; i < kids.length; i++) {
      expect(firstSigned.get(kids[i])! - firstSigned.get(kids[i - 1])!).toBe(ROTATE_EVERY_MS);
    }
    expect(restarts).toBe(4);

    // The emergency switch: old tokens die in Latchkey at once, and in jose after a refetch.
    const old = issued[issued.length - 1];
    const staleCache = await jwks();
    await verifyWith(staleCache, old.token);
    const rot = await inst.req("POST", "/p/demo/v1/rotate-jwt-secret", { headers: { "x-admin-key": ADMIN_KEY } });
    expect(rot.status).toBe(200);
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: old.token }), 401, "AUTH_INVALID_TOKEN");
    expectError(await inst.req("GET", "/p/demo/auth/forward", { token: old.token }), 401, "AUTH_INVALID_TOKEN");
    // Offline verification cannot see it until the JWKS is refetched...
    await verifyWith(staleCache, old.token);
    // ...after which no old key is left.
    const refetched = await jwks();
    expect(refetched.keys).toHaveLength(1);
    for (const k of staleCache.keys) expect(refetched.keys.map((x) => x.kid)).not.toContain(k.kid);
    await expect(verifyWith(refetched, old.token)).rejects.toThrow();
    // Clients recover by refreshing: the new token names the new key.
    const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refreshToken } });
    expect(r.status).toBe(200);
    refreshToken = r.body.data.refresh_token;
    expect(decodeProtectedHeader(r.body.data.token).kid).toBe(refetched.keys[0].kid!);
    await verifyWith(refetched, r.body.data.token);

    // A restart changes nothing: the old token stays refused, the new key stays in force.
    await inst.restart();
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: old.token }), 401, "AUTH_INVALID_TOKEN");
    expect((await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token })).status).toBe(200);
    expect(await jwks()).toEqual(refetched);

    // And the schedule resumes from the emergency key: its successor is published an hour minus the lead later.
    inst.clock.now += ROTATE_EVERY_MS - LEAD_MS - MINUTE;
    expect((await jwks()).keys).toHaveLength(1);
    inst.clock.now += MINUTE;
    expect((await jwks()).keys).toHaveLength(2);
  }, 30_000); // 281 simulated minutes of refreshes, JWKS reads and verifications: about 6 s on PostgreSQL

  it("after downtime past the due time, publishes the successor first and lets it sign only a full lead later", async () => {
    const downtime = await createTestInstance([spec]);
    try {
      const s = await signUp(downtime, "late@example.com");
      const kid0 = decodeProtectedHeader(s.token).kid!;
      await downtime.restart();
      downtime.clock.now += 3 * ROTATE_EVERY_MS; // the server was down for three periods
      const set = (await downtime.req("GET", "/p/demo/.well-known/jwks.json")).body as JSONWebKeySet;
      expect(set.keys.map((k) => k.kid)).toContain(kid0);
      expect(set.keys).toHaveLength(2);
      const signNow = async (): Promise<string> => {
        const r = await downtime.req("POST", "/p/demo/auth/login", { body: { email: "late@example.com", password: "correct horse battery" } });
        return decodeProtectedHeader(r.body.data.token).kid!;
      };
      expect(await signNow()).toBe(kid0);
      downtime.clock.now += LEAD_MS - 1000;
      expect(await signNow()).toBe(kid0);
      downtime.clock.now += 1000;
      const kid1 = await signNow();
      expect(kid1).not.toBe(kid0);
      expect(set.keys.map((k) => k.kid)).toContain(kid1);
    } finally {
      await downtime.close();
    }
  });

  it("keeps a retired key for the longest TTL it signed under, even after access_token_ttl is shortened", async () => {
    const long = authSpec({ auth: { access_token_ttl: "1h", signing: { algorithm: "EdDSA", rotate_every: "3h" } } });
    const ttl = await createTestInstance([long]);
    try {
      const t0 = ttl.clock.now;
      const s = await signUp(ttl, "ttl@example.com");
      const kid0 = decodeProtectedHeader(s.token).kid!;
      const set = async () => ((await ttl.req("GET", "/p/demo/.well-known/jwks.json")).body as JSONWebKeySet).keys.map((k) => k.kid);
      ttl.clock.now = t0 + 3 * 3600_000 - 65 * MINUTE; // the successor is due: published, not yet signing
      expect(await set()).toHaveLength(2);
      ttl.clock.now = t0 + 3 * 3600_000 - MINUTE;
      const r = await ttl.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } });
      const last = r.body.data.token as string; // kid0's last token: valid for an hour more
      expect(decodeProtectedHeader(last).kid).toBe(kid0);

      await ttl.restart([authSpec({ auth: { access_token_ttl: "15m", signing: { algorithm: "EdDSA", rotate_every: "3h" } } })]);
      ttl.clock.now = t0 + 3 * 3600_000 + 20 * MINUTE; // past the new TTL after retirement, inside the old one
      expect(await set()).toContain(kid0);
      expect((await ttl.req("GET", "/p/demo/auth/me", { token: last })).status).toBe(200);
      ttl.clock.now = t0 + 4 * 3600_000; // kid0 stopped signing at t0 + 3h: its last 1h token has expired
      expect(await set()).not.toContain(kid0);
    } finally {
      await ttl.close();
    }
  });
});

