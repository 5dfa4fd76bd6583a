/**
 * GET /p/{id}/openapi.json: valid OpenAPI 3.1 (checked by a standard validator), built from the
 * app's real routes and the project's columns, and honest: real responses of signup, login, me,
 * PATCH me, refresh, logout, the accounts and admin users API (sessions, users pages, a user, the
 * audit log) and the error envelope validate against it (ajv, draft 2020-12).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createTestInstance, type TestInstance, type TestResponse } from "../helpers/instance.ts";
import { runtimeOf } from "../helpers/auth.ts";

const ADMIN_KEY = "sk_" + "S".repeat(43);

const EVERY_TYPE = {
  id: "shop",
  keys: { admin: ADMIN_KEY },
  allowed_redirect_origins: ["https://shop.example"],
  tables: {
    users: {
      auth_table: true,
      columns: {
        nickname: "string required max_length 20",
        bio: "text",
        age: { type: "int", min: 0, max: 150 },
        score: "float default 1.5",
        newsletter: "bool default false",
        birthday: "date",
        last_seen: "datetime",
        joined_ts: "timestamp default now",
        prefs: "json",
        plan: { type: "enum", values: ["free", "pro"], default: "free" },
        buddy: "ref users set_null",
        ext_id: "uuid",
        role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
        internal_note: "text hidden",
      },
    },
    teams: { columns: { name: "string" } },
    invoices: { columns: { owner: "ref users restrict", amount: "int" } },
  },
};
const NO_AUTH = { id: "plain", tables: { notes: { columns: { body: "text" } } } };
const PUBLIC_KEYED = { id: "keyed", auth: { require_public_key: true }, tables: { users: { auth_table: true } } };

let t: TestInstance;
let doc: any;
let ajv: Ajv2020;

beforeAll(async () => {
  t = await createTestInstance([EVERY_TYPE, NO_AUTH, PUBLIC_KEYED]);
  const r = await t.req("GET", "/p/shop/openapi.json");
  expect(r.status).toBe(200);
  doc = r.body;
  ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema(doc, "openapi.json");
});
afterAll(async () => {
  await t.close();
});

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

/** Validates a real response against the document's schema for that operation and status. */
function expectConforms(method: string, path: string, res: TestResponse): void {
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op).toBeDefined();
  const status = String(res.status);
  const key = op.responses[status] ? status : "default";
  if (key === "default") throw new Error(`${method} ${path} answered ${status}, which the document does not list`);
  const validate = ajv.getSchema(`openapi.json#/${pointer("paths", path, method.toLowerCase(), "responses", key, "content", "application/json", "schema")}`);
  if (!validate) throw new Error(`no schema for ${method} ${path} ${status}`);
  const ok = validate(res.body);
  if (!ok) throw new Error(`${method} ${path} ${status} does not match the document: ${ajv.errorsText(validate.errors)}\n${res.text}`);
}

function requestSchema(name: string) {
  const validate = ajv.getSchema(`openapi.json#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name}`);
  return validate;
}

describe("GET /p/{id}/openapi.json", () => {
  it("passes the OpenAPI 3.1 validator for projects with every column type, no auth table, or a required public key", async () => {
    for (const id of ["shop", "plain", "keyed"]) {
      const r = await t.req("GET", `/p/${id}/openapi.json`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain("application/json");
      const validator = new Validator();
      const result = await validator.validate(r.body);
      if (!result.valid) throw new Error(`${id}: ${JSON.stringify(result.errors).slice(0, 2000)}`);
      expect(validator.version).toBe("3.1");
    }
  });

  it("lists exactly the project routes the app registered", async () => {
    const expected = t.booted.app.routes
      .filter((r) => r.path.startsWith("/p/:projectId/"))
      // The admin console's HTML pages are not part of the JSON API (docs/console.md lists them).
      .filter((r) => !r.path.startsWith("/p/:projectId/admin/"))
      // OpenAPI writes a path parameter as {name} where the router writes :name.
      .map((r) => `${r.method.toLowerCase()} ${r.path.slice("/p/:projectId".length).replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`)
      .sort();
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`)).sort();
    expect(listed).toEqual(expected);
    expect(listed.length).toBeGreaterThanOrEqual(16);
    const plain = (await t.req("GET", "/p/plain/openapi.json")).body;
    expect(Object.keys(plain.paths).filter((p) => p.startsWith("/auth/"))).toEqual([]);
    // Without an auth table these answer 404 AUTH_NOT_ENABLED, so the document leaves them out; the audit log stays.
    expect(Object.keys(plain.paths).filter((p) => p.startsWith("/v1/users") || p.startsWith("/.well-known/"))).toEqual([]);
    expect(plain.paths["/v1/audit"]?.get).toBeDefined();
    // Every path parameter is declared, so the templates can be filled in.
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops as Record<string, any>)) {
        expect((op.parameters ?? []).filter((x: any) => x.in === "path").map((x: any) => x.name)).toEqual(names);
      }
    }
    expect(plain.components.schemas.User).toBeUndefined();
    expect(doc.servers[0].url).toBe("http://127.0.0.1:8080/p/shop");
  });

  it("carries the project's own columns: types, enums, required, lengths; readonly only in answers, hidden never", () => {
    const { User, SignupRequest, ProfilePatch } = doc.components.schemas;
    expect(Object.keys(User.properties)).toEqual([
      "id", "email", "email_verified", "created_at", "updated_at",
      "nickname", "bio", "age", "score", "newsletter", "birthday", "last_seen", "joined_ts", "prefs", "plan", "buddy", "ext_id", "role",
    ]);
    expect(User.additionalProperties).toBe(false);
    expect(SignupRequest.properties.role).toBeUndefined();
    expect(ProfilePatch.properties.role).toBeUndefined();
    expect(SignupRequest.properties.internal_note).toEqual({ type: ["string", "null"] });
    expect(SignupRequest.required).toEqual(["email", "password", "nickname"]);
    expect(SignupRequest.properties.nickname).toEqual({ type: "string", maxLength: 20 });
    expect(SignupRequest.properties.plan).toEqual({ type: ["string", "null"], enum: ["free", "pro", null], default: "free" });
    expect(SignupRequest.properties.age).toEqual({ type: ["integer", "null"], minimum: 0, maximum: 150 });
    expect(SignupRequest.properties.password).toEqual({ type: "string", minLength: 8, maxLength: 128 });
    expect(User.properties.role).toEqual({ type: ["string", "null"], enum: ["user", "admin", null] });
    expect(User.properties.buddy).toEqual({ type: ["string", "null"], format: "uuid" });
    expect(User.properties.birthday.format).toBe("date");
  });

  it("describes the requests the server accepts and refuses alike", async () => {
    const signup = requestSchema("SignupRequest");
    const good = { email: "ok@shop.example", password: "correct horse battery", nickname: "ok" };
    expect(signup(good)).toBe(true);
    for (const bad of [{ ...good, role: "admin" }, { ...good, plan: "gold" }, { ...good, nickname: "x".repeat(21) }, { email: "a@b.co", password: "correct horse battery" }]) {
      expect(signup(bad)).toBe(false);
      const r = await t.req("POST", "/p/shop/auth/signup", { body: bad });
      expect(r.status).toBe(400);
      expectConforms("POST", "/auth/signup", r);
    }
  });

  it("is what real responses look like: signup, login, me, PATCH me, refresh, logout and errors", async () => {
    const signupBody = {
      email: "every@shop.example",
      password: "correct horse battery",
      nickname: "every",
      bio: "likes tables",
      age: 33,
      newsletter: true,
      birthday: "1993-02-01",
      last_seen: "2026-01-15T10:00:00Z",
      prefs: { theme: "dark", tags: ["a", 1, null] },
      plan: "pro",
      internal_note: "never returned",
    };
    expect(requestSchema("SignupRequest")(signupBody)).toBe(true);
    const signup = await t.req("POST", "/p/shop/auth/signup", { body: signupBody });
    expect(signup.status).toBe(201);
    expectConforms("POST", "/auth/signup", signup);
    expect(signup.body.data.user.internal_note).toBeUndefined();
    expect(signup.body.data.user.ext_id).toMatch(/^[0-9a-f-]{36}$/);

    const login = await t.req("POST", "/p/shop/auth/login", { body: { email: signupBody.email, password: signupBody.password } });
    expect(login.status).toBe(200);
    expectConforms("POST", "/auth/login", login);
    const token = login.body.data.token;

    const me = await t.req("GET", "/p/shop/auth/me", { token });
    expect(me.status).toBe(200);
    expectConforms("GET", "/auth/me", me);
    expect(me.body.data.user.joined_ts).toBeNumber();

    const patch = { bio: null, score: 2.25, buddy: me.body.data.user.id, prefs: [1, 2], last_seen: "2026-01-15T11:00:00+02:00" };
    expect(requestSchema("ProfilePatch")(patch)).toBe(true);
    const patched = await t.req("PATCH", "/p/shop/auth/me", { token, body: patch });
    expect(patched.status).toBe(200);
    expectConforms("PATCH", "/auth/me", patched);
    expect(patched.body.data.user.bio).toBeNull();

    const refreshed = await t.req("POST", "/p/shop/auth/refresh", { body: { refresh_token: login.body.data.refresh_token } });
    expect(refreshed.status).toBe(200);
    expectConforms("POST", "/auth/refresh", refreshed);
    const out = await t.req("POST", "/p/shop/auth/logout", { token: refreshed.body.data.token });
    expect(out.status).toBe(200);
    expectConforms("POST", "/auth/logout", out);

    const errors: [string, string, TestResponse, string][] = [
      ["POST", "/auth/signup", await t.req("POST", "/p/shop/auth/signup", { body: signupBody }), "VALIDATION_DUPLICATE"],
      ["POST", "/auth/signup", await t.req("POST", "/p/shop/auth/signup", { rawBody: "{not json" }), "VALIDATION_MALFORMED_JSON"],
      ["POST", "/auth/login", await t.req("POST", "/p/shop/auth/login", { body: { email: signupBody.email, password: "wrong password!" } }), "AUTH_INVALID_CREDENTIALS"],
      ["GET", "/auth/me", await t.req("GET", "/p/shop/auth/me"), "AUTH_REQUIRED"],
      ["GET", "/auth/me", await t.req("GET", "/p/shop/auth/me", { token: "nope" }), "AUTH_INVALID_TOKEN"],
      ["PATCH", "/auth/me", await t.req("PATCH", "/p/shop/auth/me", { token: (await t.req("POST", "/p/shop/auth/login", { body: { email: signupBody.email, password: signupBody.password } })).body.data.token, body: { age: "old" } }), "VALIDATION_INVALID_FIELD"],
      ["POST", "/auth/refresh", await t.req("POST", "/p/shop/auth/refresh", { body: { refresh_token: "rt_nope" } }), "AUTH_INVALID_REFRESH_TOKEN"],
      ["GET", "/v1/redirect-origins", await t.req("GET", "/p/shop/v1/redirect-origins"), "ADMIN_KEY_REQUIRED"],
      ["PUT", "/auth/me", await t.req("PUT", "/p/shop/auth/me"), "METHOD_NOT_ALLOWED"],
    ];
    for (const [method, path, res, code] of errors) {
      expect(res.body.error?.code).toBe(code);
      // PUT is not an operation of the document: its 405 is checked against the shared Error schema.
      if (method === "PUT") expect(ajv.getSchema("openapi.json#/components/schemas/Error")!(res.body)).toBe(true);
      else expectConforms(method, path, res);
    }
  });

  it("is what real responses of the accounts and admin users API look like: sessions, users pages, a user, the audit log and their errors", async () => {
    const adminReq = (method: string, path: string, body?: unknown) =>
      t.req(method, `/p/shop/v1${path}`, { body, headers: { "x-admin-key": ADMIN_KEY } });
    const password = "correct horse battery";
    const emails = ["acct-a@shop.example", "acct-b@shop.example", "acct-c@shop.example"];
    const ids: string[] = [];
    for (const email of emails) {
      const r = await t.req("POST", "/p/shop/auth/signup", { body: { email, password, nickname: email.slice(0, 6) } });
      expect(r.status).toBe(201);
      ids.push(r.body.data.user.id);
    }
    const login = await t.req("POST", "/p/shop/auth/login", { body: { email: emails[0], password }, headers: { "user-agent": "contract-test" } });
    expect(login.status).toBe(200);
    const token = login.body.data.token;

    // End user: GET /auth/sessions (two live sessions: signup's and login's), DELETE one, change-email.
    const sessions = await t.req("GET", "/p/shop/auth/sessions", { token });
    expect(sessions.status).toBe(200);
    expectConforms("GET", "/auth/sessions", sessions);
    expect(sessions.body.data.sessions).toHaveLength(2);
    expect(sessions.body.data.sessions.filter((x: any) => x.current)).toHaveLength(1);
    const other = sessions.body.data.sessions.find((x: any) => !x.current);
    const ended = await t.req("DELETE", `/p/shop/auth/sessions/${other.id}`, { token });
    expect(ended.status).toBe(200);
    expectConforms("DELETE", "/auth/sessions/{sid}", ended);
    const change = await t.req("POST", "/p/shop/auth/change-email", { token, body: { new_email: "acct-a2@shop.example", password } });
    expect(change.status).toBe(200);
    expectConforms("POST", "/auth/change-email", change);

    // Admin: a page of one user with a cursor, the next page through it, one user, writes.
    const page1 = await adminReq("GET", "/users?q=acct-&limit=1");
    expect(page1.status).toBe(200);
    expectConforms("GET", "/v1/users", page1);
    expect(page1.body.data.users).toHaveLength(1);
    expect(page1.body.data.next_cursor).toBeString();
    const page2 = await adminReq("GET", `/users?q=acct-&limit=5&cursor=${encodeURIComponent(page1.body.data.next_cursor)}`);
    expect(page2.status).toBe(200);
    expectConforms("GET", "/v1/users", page2);
    expect(page2.body.data.users).toHaveLength(2);
    expect(page2.body.data.next_cursor).toBeNull();

    const created = await adminReq("POST", "/users", { email: "acct-made@shop.example", nickname: "made", internal_note: "from the admin", role: "admin" });
    expect(created.status).toBe(201);
    expectConforms("POST", "/v1/users", created);
    const made = created.body.data.user.id;
    const one = await adminReq("GET", `/users/${made}`);
    expect(one.status).toBe(200);
    expectConforms("GET", "/v1/users/{id}", one);
    // The admin view carries the hidden column and the ban / login state.
    expect(one.body.data.user.internal_note).toBe("from the admin");
    expect(one.body.data.user.last_login_at).toBeNull();
    const patched = await adminReq("PATCH", `/users/${made}`, { score: 9.5, email_verified: true });
    expect(patched.status).toBe(200);
    expectConforms("PATCH", "/v1/users/{id}", patched);

    const banned = await adminReq("POST", `/users/${ids[1]}/ban`, { until: "2099-01-01T00:00:00Z", reason: "contract test" });
    expect(banned.status).toBe(200);
    expectConforms("POST", "/v1/users/{id}/ban", banned);
    expect(banned.body.data.user.banned).toBe(true);
    expect(banned.body.data.user.banned_until).toBe("2099-01-01T00:00:00.000Z");
    const bannedLogin = await t.req("POST", "/p/shop/auth/login", { body: { email: emails[1], password } });
    const theirSessions = await adminReq("GET", `/users/${ids[0]}/sessions`);
    expect(theirSessions.status).toBe(200);
    expectConforms("GET", "/v1/users/{id}/sessions", theirSessions);
    expect(theirSessions.body.data.sessions).toHaveLength(1);
    for (const [path, body] of [["unban", undefined], ["clear-lockout", undefined], ["revoke-sessions", undefined], ["send-password-reset", { redirect_url: "https://shop.example/reset" }]] as const) {
      const r = await adminReq("POST", `/users/${ids[1]}/${path}`, body);
      expect(r.status).toBe(200);
      expectConforms("POST", `/v1/users/{id}/${path}`, r);
    }

    // DELETE /auth/me and DELETE /v1/users/{id}; a restrict reference is 409 CONFLICT.
    const c = await t.req("POST", "/p/shop/auth/login", { body: { email: emails[2], password } });
    const p = runtimeOf(t, "shop");
    const now = new Date(t.clock.now).toISOString();
    p.db.query("INSERT INTO invoices(id, created_at, updated_at, owner, amount) VALUES (?, ?, ?, ?, 1)").run(crypto.randomUUID(), now, now, ids[2]);
    const conflict = await t.req("DELETE", "/p/shop/auth/me", { token: c.body.data.token, body: { password } });
    p.db.query("DELETE FROM invoices").run();
    const gone = await t.req("DELETE", "/p/shop/auth/me", { token: c.body.data.token, body: { password } });
    expect(gone.status).toBe(200);
    expectConforms("DELETE", "/auth/me", gone);
    const removed = await adminReq("DELETE", `/users/${made}`);
    expect(removed.status).toBe(200);
    expectConforms("DELETE", "/v1/users/{id}", removed);

    // The audit log has recorded all of the above: a first page and the next one.
    const audit1 = await adminReq("GET", "/audit?limit=3");
    expect(audit1.status).toBe(200);
    expectConforms("GET", "/v1/audit", audit1);
    expect(audit1.body.data.events).toHaveLength(3);
    const audit2 = await adminReq("GET", `/audit?limit=200&cursor=${encodeURIComponent(audit1.body.data.next_cursor)}`);
    expect(audit2.status).toBe(200);
    expectConforms("GET", "/v1/audit", audit2);
    const types = new Set([...audit1.body.data.events, ...audit2.body.data.events].map((e: any) => e.type));
    for (const type of ["user.login", "user.login_failed", "admin.user_banned", "user.deleted", "session.revoked", "admin.lockout_cleared"]) expect([type, types.has(type)]).toEqual([type, true]);

    const errors: [string, string, TestResponse, number, string][] = [
      ["POST", "/auth/login", bannedLogin, 403, "AUTH_USER_BANNED"],
      ["GET", "/v1/users/{id}", await adminReq("GET", `/users/${crypto.randomUUID()}`), 404, "USER_NOT_FOUND"],
      ["DELETE", "/auth/me", conflict, 409, "CONFLICT"],
      ["POST", "/v1/users/{id}/ban", await adminReq("POST", `/users/${made}/ban`), 404, "USER_NOT_FOUND"],
      ["GET", "/v1/users", await adminReq("GET", `/users?cursor=${encodeURIComponent(audit1.body.data.next_cursor)}`), 400, "VALIDATION_INVALID_FIELD"],
      ["GET", "/v1/audit", await t.req("GET", "/p/shop/v1/audit"), 401, "ADMIN_KEY_REQUIRED"],
      ["DELETE", "/auth/sessions/{sid}", await t.req("DELETE", `/p/shop/auth/sessions/${other.id}`, { token }), 404, "NOT_FOUND"],
      ["POST", "/auth/change-email", await t.req("POST", "/p/shop/auth/change-email", { token, body: { new_email: emails[1], password } }), 409, "VALIDATION_DUPLICATE"],
    ];
    for (const [method, path, res, status, code] of errors) {
      expect([path, res.status, res.body.error?.code]).toEqual([path, status, code]);
      expectConforms(method, path, res);
    }
    expect(conflict.body.error.message).toContain("invoices");
  });

  it("answers 404 PROJECT_NOT_FOUND for an unknown project", async () => {
    const r = await t.req("GET", "/p/nope/openapi.json");
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("PROJECT_NOT_FOUND");
  });

  it("puts the public key on the auth operations of a project that requires it", async () => {
    const keyed = (await t.req("GET", "/p/keyed/openapi.json")).body;
    expect(keyed.paths["/auth/login"].post.security).toEqual([{ publicKey: [] }]);
    expect(keyed.paths["/auth/me"].get.security).toEqual([{ bearerAuth: [], publicKey: [] }]);
    expect(keyed.paths["/auth/verify"].get.security).toEqual([{}]);
    expect(doc.paths["/auth/login"].post.security).toEqual([{}]);
  });
});
