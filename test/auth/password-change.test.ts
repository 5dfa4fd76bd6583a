import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, authSpec, expectError, logIn, mailCount, signUp, type Session } from "../helpers/auth.ts";

const NEW_PASSWORD = "a brand new secret";

describe("POST /auth/change-password scenarios", () => {
  let inst: TestInstance;
  let s: Session;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec({ auth: { password: { reject_common: true } } })]);
    s = await signUp(inst, "cp@example.com");
  });
  afterAll(() => inst.close());

  const cases: { name: string; body?: unknown; raw?: string; token?: boolean; status: number; code: string; field?: string }[] = [
    { name: "no token", body: { current_password: PASSWORD, new_password: NEW_PASSWORD }, token: false, status: 401, code: "AUTH_REQUIRED" },
    { name: "an empty body", raw: "", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "malformed JSON", raw: "{\"current_password\":", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a JSON array", raw: "[]", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a missing current_password", body: { new_password: NEW_PASSWORD }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "current_password" },
    { name: "a numeric current_password", body: { current_password: 1, new_password: NEW_PASSWORD }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "current_password" },
    { name: "a missing new_password", body: { current_password: PASSWORD }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "new_password" },
    { name: "a numeric new_password", body: { current_password: PASSWORD, new_password: 123456789 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "new_password" },
    { name: "a short new_password", body: { current_password: PASSWORD, new_password: "short" }, status: 400, code: "VALIDATION_WEAK_PASSWORD", field: "new_password" },
    { name: "a common new_password", body: { current_password: PASSWORD, new_password: "Password123" }, status: 400, code: "VALIDATION_WEAK_PASSWORD", field: "new_password" },
    { name: "an unknown field", body: { current_password: PASSWORD, new_password: NEW_PASSWORD, logout_others: true }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "logout_others" },
    { name: "a wrong current password", body: { current_password: "not my password", new_password: NEW_PASSWORD }, status: 401, code: "AUTH_INVALID_CREDENTIALS" },
  ];
  for (const c of cases) {
    it(`answers ${c.status} ${c.code} for ${c.name}, queues no mail and keeps the password`, async () => {
      const r = await inst.req("POST", "/p/demo/auth/change-password", {
        token: c.token === false ? undefined : s.token,
        ...(c.raw !== undefined ? { rawBody: c.raw } : { body: c.body }),
      });
      expectError(r, c.status, c.code, c.field);
      expect(mailCount(inst, "password_changed")).toBe(0);
      expect((await inst.req("GET", "/p/demo/auth/me", { token: s.token })).status).toBe(200);
    });
  }

  it("answers 200 {ok, token}, queues one password_changed mail, and the new password logs in", async () => {
    const r = await inst.req("POST", "/p/demo/auth/change-password", { token: s.token, body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.data).toEqual({ ok: true, token: expect.any(String), token_type: "Bearer", expires_in: 3600 });
    expect(mailCount(inst, "password_changed")).toBe(1);
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "cp@example.com", password: PASSWORD } }), 401, "AUTH_INVALID_CREDENTIALS");
    await logIn(inst, "cp@example.com", { password: NEW_PASSWORD });
    expect(inst.logs.some((l) => l.includes('"event":"password_changed"'))).toBe(true);
  });
});

describe("change-password and sessions", () => {
  let inst: TestInstance | null = null;
  afterEach(async () => {
    await inst?.close();
    inst = null;
  });

  it("with revoke_sessions_on_password_change ends every other session but keeps the caller's", async () => {
    inst = await createTestInstance([authSpec({ auth: { revoke_sessions_on_password_change: true } })]);
    const mine = await signUp(inst, "rv@example.com");
    const other = await logIn(inst, "rv@example.com");
    const r = await inst.req("POST", "/p/demo/auth/change-password", { token: mine.token, body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expect(r.status).toBe(200);
    expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: other.refresh_token } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
    const own = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: mine.refresh_token } });
    expect(own.status).toBe(200);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: own.body.data.token })).status).toBe(200);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token })).status).toBe(200);
  });

  it("counts wrong current passwords against the account's login failures", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { login_failures_per_account: { max: 2, window: "15m" } } } })]);
    const s = await signUp(inst, "guess@example.com");
    for (let i = 0; i < 2; i++) {
      expectError(await inst.req("POST", "/p/demo/auth/change-password", { token: s.token, body: { current_password: `guess ${i} wrong`, new_password: NEW_PASSWORD } }), 401, "AUTH_INVALID_CREDENTIALS");
    }
    const r = await inst.req("POST", "/p/demo/auth/change-password", { token: s.token, body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expectError(r, 429, "RATE_LIMITED");
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("lets only one of two concurrent changes win; the loser's token is stale", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "two@example.com");
    const [a, b] = await Promise.all([
      inst.req("POST", "/p/demo/auth/change-password", { token: s.token, body: { current_password: PASSWORD, new_password: "first new secret" } }),
      inst.req("POST", "/p/demo/auth/change-password", { token: s.token, body: { current_password: PASSWORD, new_password: "second new secret" } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 401]);
    expect(mailCount(inst, "password_changed")).toBe(1);
  });
});

describe("POST /auth/logout scenarios", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec()]);
    await signUp(inst, "lo@example.com");
  });
  afterAll(() => inst.close());

  const cases: { name: string; body?: unknown; raw?: string; token?: boolean; status: number; code: string; field?: string }[] = [
    { name: "no token", token: false, status: 401, code: "AUTH_REQUIRED" },
    { name: "malformed JSON", raw: "{", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a JSON array", raw: "[]", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a non-boolean all", body: { all: "yes" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "all" },
    { name: "an unknown field", body: { everywhere: true }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "everywhere" },
  ];
  for (const c of cases) {
    it(`answers ${c.status} ${c.code} for ${c.name} and keeps the session`, async () => {
      const s = await logIn(inst, "lo@example.com");
      const r = await inst.req("POST", "/p/demo/auth/logout", {
        token: c.token === false ? undefined : s.token,
        ...(c.raw !== undefined ? { rawBody: c.raw } : c.body !== undefined ? { body: c.body } : {}),
      });
      expectError(r, c.status, c.code, c.field);
      expect((await inst.req("GET", "/p/demo/auth/me", { token: s.token })).status).toBe(200);
    });
  }

  for (const [name, opts] of [["an empty body", {}], ["{}", { body: {} }], ['{"all": false}', { body: { all: false } }]] as const) {
    it(`answers 200 {ok: true} for ${name} and ends only this session`, async () => {
      const s = await logIn(inst, "lo@example.com");
      const other = await logIn(inst, "lo@example.com");
      const r = await inst.req("POST", "/p/demo/auth/logout", { token: s.token, ...opts });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ data: { ok: true } });
      expectError(await inst.req("GET", "/p/demo/auth/me", { token: s.token }), 401, "AUTH_INVALID_TOKEN");
      expect((await inst.req("GET", "/p/demo/auth/me", { token: other.token })).status).toBe(200);
    });
  }
});
