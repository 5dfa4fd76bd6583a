import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, decodeJwtPayload, expectError, logIn, dbOf, runtimeOf, signUp } from "../helpers/auth.ts";
import { sha256Hex } from "../../src/crypto/digest.ts";

const refresh = (inst: TestInstance, refresh_token: unknown) => inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token } });

function liveTokensOf(inst: TestInstance, sessionId: string): number {
  const r = dbOf(inst)
    .query("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL")
    .get(sessionId) as { n: number };
  return r.n;
}

describe("POST /auth/refresh scenarios", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec()]);
  });
  afterAll(() => inst.close());

  const cases: { name: string; body?: unknown; raw?: string; status: number; code: string; field?: string }[] = [
    { name: "an empty body", raw: "", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "malformed JSON", raw: "{", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a JSON array", raw: "[]", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "an empty object", body: {}, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "refresh_token" },
    { name: "a numeric token", body: { refresh_token: 5 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "refresh_token" },
    { name: "an unknown field", body: { refresh_token: "rt_x", device: "x" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "device" },
    { name: "garbage", body: { refresh_token: "garbage" }, status: 401, code: "AUTH_INVALID_REFRESH_TOKEN" },
    { name: "a well-formed unknown token", body: { refresh_token: `rt_${"A".repeat(43)}` }, status: 401, code: "AUTH_INVALID_REFRESH_TOKEN" },
  ];
  for (const c of cases) {
    it(`answers ${c.status} ${c.code} for ${c.name}`, async () => {
      const r = await inst.req("POST", "/p/demo/auth/refresh", c.raw !== undefined ? { rawBody: c.raw } : { body: c.body });
      expectError(r, c.status, c.code, c.field);
    });
  }

  it("refuses an access token presented as a refresh token", async () => {
    const s = await signUp(inst, "at-as-rt@example.com");
    expectError(await refresh(inst, s.token), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });

  it("rotates the token: a new refresh token and a working access token for the same session", async () => {
    const s = await signUp(inst, "rotate@example.com");
    inst.clock.advance(1000);
    const r = await refresh(inst, s.refresh_token);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(r.body.data).sort()).toEqual(["expires_in", "refresh_token", "token", "token_type"]);
    expect(r.body.data.token_type).toBe("Bearer");
    expect(r.body.data.expires_in).toBe(3600);
    expect(r.body.data.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    expect(r.body.data.refresh_token).not.toBe(s.refresh_token);
    expect(decodeJwtPayload(r.body.data.token).sid).toBe(decodeJwtPayload(s.token).sid);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token })).status).toBe(200);
    // The successor rotates in turn.
    expect((await refresh(inst, r.body.data.refresh_token)).status).toBe(200);
  });

  it("stores refresh tokens only as SHA-256 hashes", async () => {
    const s = await signUp(inst, "hashed@example.com");
    const db = dbOf(inst);
    expect(db.query("SELECT count(*) AS n FROM _refresh_tokens WHERE token_hash = ?").get(sha256Hex(s.refresh_token))).toEqual({ n: 1 });
    expect(db.query("SELECT count(*) AS n FROM _refresh_tokens WHERE token_hash = ?").get(s.refresh_token)).toEqual({ n: 0 });
  });
});

describe("refresh rotation, grace and reuse", () => {
  let inst: TestInstance | null = null;
  afterEach(async () => {
    await inst?.close();
    inst = null;
  });

  it("returns the same successor to a retry within refresh_reuse_grace", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_reuse_grace: "10s" } })]);
    const s = await signUp(inst, "grace@example.com");
    const first = await refresh(inst, s.refresh_token);
    inst.clock.advance(9_000);
    const retry = await refresh(inst, s.refresh_token);
    expect(retry.status).toBe(200);
    expect(retry.body.data.refresh_token).toBe(first.body.data.refresh_token);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: retry.body.data.token })).status).toBe(200);
    expect(liveTokensOf(inst, String(decodeJwtPayload(s.token).sid))).toBe(1);
  });

  it("ends the whole session when a rotated token is presented after the grace", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_reuse_grace: "10s" } })]);
    const s = await signUp(inst, "theft@example.com");
    const other = await logIn(inst, "theft@example.com");
    const next = (await refresh(inst, s.refresh_token)).body.data;
    inst.clock.advance(11_000);
    expectError(await refresh(inst, s.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
    // Every refresh token and every access token of that session is dead...
    expectError(await refresh(inst, next.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: next.token }), 401, "AUTH_INVALID_TOKEN");
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: s.token }), 401, "AUTH_INVALID_TOKEN");
    // ...but the user's other session is not.
    expect((await inst.req("GET", "/p/demo/auth/me", { token: other.token })).status).toBe(200);
    expect((await refresh(inst, other.refresh_token)).status).toBe(200);
    const events = inst.logs.filter((l) => l.includes('"event":"refresh_reuse"'));
    expect(events).toHaveLength(1);
    expect(events[0]).toContain(String(s.user.id));
  });

  it("gives 10 concurrent refreshes of one token the same successor and leaves one live successor", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "race@example.com");
    const results = await Promise.all(Array.from({ length: 10 }, () => refresh(inst!, s.refresh_token)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 200 || r.status === 401)).toBe(true);
    expect(new Set(ok.map((r) => r.body.data.refresh_token)).size).toBe(1);
    const sid = String(decodeJwtPayload(s.token).sid);
    expect(liveTokensOf(inst, sid)).toBe(1);
    // The parent's full row is gone; only its compact record stays (for reuse detection).
    const db = dbOf(inst);
    expect(db.query("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?").get(sid)).toEqual({ n: 1 });
    expect(db.query("SELECT count(*) AS n FROM _refresh_rotated WHERE session_id = ?").get(sid)).toEqual({ n: 1 });
  });

  it("refuses a refresh token past refresh_token_ttl from its issue", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "1d" } })]);
    const s = await signUp(inst, "old@example.com");
    inst.clock.advance(86_400_000);
    expectError(await refresh(inst, s.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });

  it("gives each successor its own refresh_token_ttl from its issue", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "1d" } })]);
    const s = await signUp(inst, "slide@example.com");
    inst.clock.advance(20 * 3600_000);
    const next = (await refresh(inst, s.refresh_token)).body.data;
    inst.clock.advance(20 * 3600_000);
    expect((await refresh(inst, next.refresh_token)).status).toBe(200);
  });

  it("refuses the refresh token of a session ended by logout", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "out@example.com");
    expect((await inst.req("POST", "/p/demo/auth/logout", { token: s.token })).status).toBe(200);
    expectError(await refresh(inst, s.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });

  it("refuses the refresh token of a deleted user", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "gone@example.com");
    dbOf(inst).query("DELETE FROM users WHERE id = ?").run(s.user.id);
    expectError(await refresh(inst, s.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });

  it("refuses a refresh token of another project", async () => {
    inst = await createTestInstance([authSpec(), authSpec({ id: "other" })]);
    const s = await signUp(inst, "p@example.com", { project: "other" });
    expectError(await refresh(inst, s.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });

  it("keeps working across a restart (tokens live in the project database)", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "restart@example.com");
    await inst.restart();
    const r = await refresh(inst, s.refresh_token);
    expect(r.status).toBe(200);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: s.token })).status).toBe(200);
  });
});
