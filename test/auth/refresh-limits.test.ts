/**
 * Bounds on refresh: `refresh_per_session`, compact records of rotated-out tokens (reuse detection
 * keeps working), and the absolute `session_max_age`.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { pruneSessions } from "../../src/modules/session/sessions.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, decodeJwtPayload, expectError, logIn, dbOf, runtimeOf, signUp } from "../helpers/auth.ts";

const refresh = (inst: TestInstance, refresh_token: string) => inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token } });
const DAY = 86_400_000;

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

function rowsOf(t: TestInstance, sid: string): { full: number; rotated: number } {
  const db = dbOf(t);
  const n = (sql: string): number => (db.query(sql).get(sid) as { n: number }).n;
  return {
    full: n("SELECT count(*) AS n FROM _refresh_tokens WHERE session_id = ?"),
    rotated: n("SELECT count(*) AS n FROM _refresh_rotated WHERE session_id = ?"),
  };
}

describe("refresh_per_session", () => {
  it("answers the 61st refresh of one session within a minute with 429 and Retry-After, and lets it go on after the window", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "spin@example.com");
    const other = await logIn(inst, "spin@example.com");
    let token = s.refresh_token;
    for (let i = 0; i < 60; i++) {
      const r = await refresh(inst, token);
      expect(r.status).toBe(200);
      token = r.body.data.refresh_token;
    }
    const limited = await refresh(inst, token);
    expectError(limited, 429, "RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another session of the same user has its own budget.
    expect((await refresh(inst, other.refresh_token)).status).toBe(200);
    inst.clock.advance(60_000);
    // The refused attempt did not spend the token.
    expect((await refresh(inst, token)).status).toBe(200);
  });

  it("can be turned off", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { refresh_per_session: "off" } } })]);
    let token = (await signUp(inst, "free@example.com")).refresh_token;
    for (let i = 0; i < 70; i++) {
      const r = await refresh(inst, token);
      expect(r.status).toBe(200);
      token = r.body.data.refresh_token;
    }
  });
});

describe("rotated-out tokens", () => {
  it("keep one full row per session and a 16-byte compact record per rotation, dropped once the token would have expired", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "1d", rate_limits: { refresh_per_session: "off" } } })]);
    const s = await signUp(inst, "chain@example.com");
    const sid = String(decodeJwtPayload(s.token).sid);
    let token = s.refresh_token;
    for (let i = 0; i < 100; i++) token = (await refresh(inst, token)).body.data.refresh_token;
    expect(rowsOf(inst, sid)).toEqual({ full: 1, rotated: 100 });
    const tags = dbOf(inst).query("SELECT DISTINCT length(tag) AS n FROM _refresh_rotated").all();
    expect(tags).toEqual([{ n: 16 }]);
    inst.clock.advance(DAY);
    await pruneSessions(runtimeOf(inst), inst.clock.now);
    expect(rowsOf(inst, sid).rotated).toBe(0);
  });

  it("still end the session when the first token of a long chain is replayed after the grace", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_reuse_grace: "10s", rate_limits: { refresh_per_session: "off" } } })]);
    const s = await signUp(inst, "stolen@example.com");
    const other = await logIn(inst, "stolen@example.com");
    let latest = { token: s.token, refresh_token: s.refresh_token };
    for (let i = 0; i < 50; i++) latest = (await refresh(inst, latest.refresh_token)).body.data;
    inst.clock.advance(11_000);
    expectError(await refresh(inst, s.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
    expectError(await refresh(inst, latest.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: latest.token }), 401, "AUTH_INVALID_TOKEN");
    expect((await refresh(inst, other.refresh_token)).status).toBe(200);
    expect(inst.logs.filter((l) => l.includes('"event":"refresh_reuse"'))).toHaveLength(1);
  });

  it("answer a retry of a rotated token within the grace with the same successor", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_reuse_grace: "10s" } })]);
    const s = await signUp(inst, "retry@example.com");
    const first = (await refresh(inst, s.refresh_token)).body.data.refresh_token;
    inst.clock.advance(10_000);
    const again = await refresh(inst, s.refresh_token);
    expect(again.status).toBe(200);
    expect(again.body.data.refresh_token).toBe(first);
  });
});

describe("session_max_age", () => {
  it("refuses a refresh once the session is older than session_max_age, however often it was refreshed", async () => {
    inst = await createTestInstance([authSpec({ auth: { session_max_age: "2d", refresh_token_ttl: "1d" } })]);
    const s = await signUp(inst, "old@example.com");
    let token = s.refresh_token;
    for (let i = 0; i < 3; i++) {
      inst.clock.advance(12 * 3_600_000);
      const r = await refresh(inst, token);
      expect(r.status).toBe(200);
      token = r.body.data.refresh_token;
    }
    inst.clock.advance(12 * 3_600_000 - 1);
    const last = await refresh(inst, token);
    expect(last.status).toBe(200);
    inst.clock.advance(1);
    expectError(await refresh(inst, last.body.data.refresh_token), 401, "AUTH_INVALID_REFRESH_TOKEN");
    // A new login opens a new session with a new lifetime.
    expect((await refresh(inst, (await logIn(inst, "old@example.com")).refresh_token)).status).toBe(200);
  });

  it("defaults to 90 days", async () => {
    inst = await createTestInstance([authSpec({ auth: { refresh_token_ttl: "60d" } })]);
    let token = (await signUp(inst, "ninety@example.com")).refresh_token;
    inst.clock.advance(50 * DAY);
    token = (await refresh(inst, token)).body.data.refresh_token;
    inst.clock.advance(40 * DAY);
    expectError(await refresh(inst, token), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });
});
