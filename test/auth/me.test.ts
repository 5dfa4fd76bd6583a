import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, expectError, dbOf, signUp, type Session } from "../helpers/auth.ts";

const ORG_ID = "0b0c5f6e-2f43-4b8e-9a51-0c6f3f1d2a10";

describe("GET and PATCH /auth/me", () => {
  let inst: TestInstance;
  let s: Session;
  beforeAll(async () => {
    const spec = authSpec({
      columns: {
        display_name: "string required max_length 10",
        role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
        newsletter: "bool default false",
        secret_note: "string hidden",
        internal_score: { type: "int", readonly: true, hidden: true, default: 7 },
        org_id: "ref orgs",
        username: "string unique",
      },
    });
    (spec.tables as Record<string, unknown>).orgs = { columns: { name: "string required" } };
    inst = await createTestInstance([spec]);
    dbOf(inst).query(`INSERT INTO orgs(id, created_at, updated_at, name) VALUES (?, 'x', 'x', 'Acme')`).run(ORG_ID);
    s = await signUp(inst, "me@example.com", { fields: { display_name: "Me" } });
    await signUp(inst, "other@example.com", { fields: { display_name: "Other", username: "taken" } });
  });
  afterAll(() => inst.close());

  it("GET answers 200 with the public user object and no-store", async () => {
    const r = await inst.req("GET", "/p/demo/auth/me", { token: s.token });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.data.user).toEqual(s.user);
    expect(Object.keys(r.body.data.user)).not.toContain("password_hash");
    expect(Object.keys(r.body.data.user)).not.toContain("secret_note");
    expect(Object.keys(r.body.data.user)).not.toContain("internal_score");
  });

  const cases: { name: string; body?: unknown; raw?: string; token?: boolean; status: number; code: string; field?: string }[] = [
    { name: "no token", body: { display_name: "X" }, token: false, status: 401, code: "AUTH_REQUIRED" },
    { name: "an empty body", raw: "", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "malformed JSON", raw: "{", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a JSON array", raw: "[1]", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a readonly column (role)", body: { role: "admin" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "role" },
    { name: "a hidden readonly column", body: { internal_score: 1 }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "internal_score" },
    { name: "email", body: { email: "new@example.com" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "email" },
    { name: "password", body: { password: "a new password" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "password" },
    { name: "email_verified", body: { email_verified: true }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "email_verified" },
    { name: "id", body: { id: ORG_ID }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "id" },
    { name: "updated_at", body: { updated_at: "2020-01-01T00:00:00.000Z" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "updated_at" },
    { name: "__proto__", raw: `{"__proto__":{"role":"admin"}}`, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "__proto__" },
    { name: "an unknown field", body: { nickname: "x" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "nickname" },
    { name: "a string over max_length", body: { display_name: "x".repeat(11) }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "display_name" },
    { name: "null for a required column", body: { display_name: null }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "display_name" },
    { name: "a wrong type", body: { newsletter: "true" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "newsletter" },
    { name: "a ref to a missing row", body: { org_id: "8d7e2c1a-4b5f-4c3e-8a9b-1f2e3d4c5b6a" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "org_id" },
    { name: "a value another user holds in a unique column", body: { username: "taken" }, status: 409, code: "VALIDATION_DUPLICATE", field: "username" },
  ];
  for (const c of cases) {
    it(`PATCH answers ${c.status} ${c.code} for ${c.name} and changes nothing`, async () => {
      const r = await inst.req("PATCH", "/p/demo/auth/me", {
        token: c.token === false ? undefined : s.token,
        ...(c.raw !== undefined ? { rawBody: c.raw } : { body: c.body }),
      });
      expectError(r, c.status, c.code, c.field);
      const now = await inst.req("GET", "/p/demo/auth/me", { token: s.token });
      expect(now.body.data.user).toEqual(s.user);
    });
  }

  it("PATCH answers 200 with the updated user, writes hidden writable columns and bumps updated_at", async () => {
    inst.clock.advance(60_000);
    const r = await inst.req("PATCH", "/p/demo/auth/me", {
      token: s.token,
      body: { display_name: "New", newsletter: true, org_id: ORG_ID, secret_note: "shh", username: "mine" },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.data.user).toEqual({
      ...s.user,
      display_name: "New",
      newsletter: true,
      org_id: ORG_ID,
      username: "mine",
      updated_at: new Date(inst.clock.now).toISOString(),
    });
    const row = dbOf(inst).query("SELECT secret_note, role, internal_score FROM users WHERE id = ?").get(s.user.id);
    expect(row).toEqual({ secret_note: "shh", role: "user", internal_score: 7 });
  });

  it("PATCH with {} changes nothing and answers the current user", async () => {
    const before = (await inst.req("GET", "/p/demo/auth/me", { token: s.token })).body.data.user;
    const r = await inst.req("PATCH", "/p/demo/auth/me", { token: s.token, body: {} });
    expect(r.status).toBe(200);
    expect(r.body.data.user.display_name).toBe(before.display_name);
  });

  it("PATCH can clear an optional column with null", async () => {
    const r = await inst.req("PATCH", "/p/demo/auth/me", { token: s.token, body: { org_id: null } });
    expect(r.status).toBe(200);
    expect(r.body.data.user.org_id).toBeNull();
  });
});
