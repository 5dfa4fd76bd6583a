import { afterEach, describe, expect, it } from "bun:test";
import { pruneSessions } from "../../src/modules/session/sessions.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";

const DAY = 86_400_000;
const PASSWORD = "correct horse battery";
let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

async function setup(): Promise<TestInstance> {
  inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } }, auth: { refresh_token_ttl: "30d", access_token_ttl: "1h" } }]);
  return inst;
}

/** `tokens`: full rows (live or revoked tokens); `rotated`: compact records of rotated-out tokens. */
function counts(t: TestInstance): { sessions: number; tokens: number; rotated: number } {
  const db = dbOf(t);
  const one = (sql: string): number => (db.query(sql).get() as { n: number }).n;
  return {
    sessions: one("SELECT count(*) AS n FROM _sessions"),
    tokens: one("SELECT count(*) AS n FROM _refresh_tokens"),
    rotated: one("SELECT count(*) AS n FROM _refresh_rotated"),
  };
}

describe("session housekeeping", () => {
  it("deletes sessions whose refresh tokens all expired, and keeps a session that is still refreshed", async () => {
    const t = await setup();
    const p = t.booted.projects.get("demo")!;
    const idle = await t.req("POST", "/p/demo/auth/signup", { body: { email: "idle@example.com", password: PASSWORD } });
    const busy = await t.req("POST", "/p/demo/auth/signup", { body: { email: "busy@example.com", password: PASSWORD } });
    expect(counts(t)).toEqual({ sessions: 2, tokens: 2, rotated: 0 });
    let refresh = busy.body.data.refresh_token as string;
    for (let i = 0; i < 3; i++) {
      t.clock.advance(12 * DAY);
      const r = await t.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refresh } });
      expect(r.status).toBe(200);
      refresh = r.body.data.refresh_token;
    }
    // 36 days: the idle session's only refresh token expired 6 days ago, and so did the busy
    // session's first (rotated) one; the busy session's later tokens are still within their TTL.
    expect(counts(t)).toEqual({ sessions: 2, tokens: 2, rotated: 3 });
    expect(await pruneSessions(p, t.clock.now)).toEqual({ sessions: 1, refreshTokens: 2 });
    expect(counts(t)).toEqual({ sessions: 1, tokens: 1, rotated: 2 });
    const stillBusy = await t.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refresh } });
    expect(stillBusy.status).toBe(200);
    const gone = await t.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: idle.body.data.refresh_token } });
    expect(gone.status).toBe(401);
    expect(gone.body.error.code).toBe("AUTH_INVALID_REFRESH_TOKEN");
    const me = await t.req("GET", "/p/demo/auth/me", { token: stillBusy.body.data.token });
    expect(me.status).toBe(200);
  });

  it("keeps a session while an access token it issued is valid, even with its refresh tokens expired", async () => {
    inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } }, auth: { refresh_token_ttl: "1d", access_token_ttl: "2d" } }]);
    const t = inst;
    const p = t.booted.projects.get("demo")!;
    const s = await t.req("POST", "/p/demo/auth/signup", { body: { email: "a@example.com", password: PASSWORD } });
    t.clock.advance(DAY + 3_600_000); // the refresh token expired; the access token has ~23 h left
    expect(await pruneSessions(p, t.clock.now)).toEqual({ sessions: 0, refreshTokens: 1 });
    expect((await t.req("GET", "/p/demo/auth/me", { token: s.body.data.token })).status).toBe(200);
    // A password change issues a fresh access token for this session and records its use.
    const changed = await t.req("POST", "/p/demo/auth/change-password", {
      token: s.body.data.token,
      body: { current_password: PASSWORD, new_password: "another fine passphrase" },
    });
    expect(changed.status).toBe(200);
    t.clock.advance(DAY); // the signup token expired; the new one has ~1 day left
    expect((await pruneSessions(p, t.clock.now)).sessions).toBe(0);
    expect((await t.req("GET", "/p/demo/auth/me", { token: changed.body.data.token })).status).toBe(200);
    t.clock.advance(DAY + 60_000); // every access token of the session has expired
    expect((await pruneSessions(p, t.clock.now)).sessions).toBe(1);
    expect(counts(t).sessions).toBe(0);
  });

  it("keeps an ended session for 30 days, then deletes it", async () => {
    const t = await setup();
    const p = t.booted.projects.get("demo")!;
    const s = await t.req("POST", "/p/demo/auth/signup", { body: { email: "a@example.com", password: PASSWORD } });
    await t.req("POST", "/p/demo/auth/logout", { token: s.body.data.token });
    t.clock.advance(2 * DAY);
    expect((await pruneSessions(p, t.clock.now)).sessions).toBe(0);
    expect(counts(t)).toEqual({ sessions: 1, tokens: 1, rotated: 0 });
    t.clock.advance(29 * DAY);
    expect(await pruneSessions(p, t.clock.now)).toEqual({ sessions: 1, refreshTokens: 1 });
    expect(counts(t)).toEqual({ sessions: 0, tokens: 0, rotated: 0 });
  });

  it("keeps a live session whose refresh chain is within its lifetime", async () => {
    const t = await setup();
    const p = t.booted.projects.get("demo")!;
    const s = await t.req("POST", "/p/demo/auth/signup", { body: { email: "a@example.com", password: PASSWORD } });
    t.clock.advance(2 * 3_600_000);
    expect(await pruneSessions(p, t.clock.now)).toEqual({ sessions: 0, refreshTokens: 0 });
    const r = await t.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.body.data.refresh_token } });
    expect(r.status).toBe(200);
  });
});
