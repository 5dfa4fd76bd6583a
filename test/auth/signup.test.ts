import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, authSpec, counterOf, expectError, mailCount, dbOf, signUp } from "../helpers/auth.ts";

const ORG_ID = "0b0c5f6e-2f43-4b8e-9a51-0c6f3f1d2a10";
const MISSING_ID = "8d7e2c1a-4b5f-4c3e-8a9b-1f2e3d4c5b6a";

/** A project whose auth table has one column of each interesting kind. */
const COLUMNS = {
  display_name: "string required max_length 10",
  role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
  plan: { type: "enum", values: ["free", "pro"], default: "free" },
  newsletter: "bool default false",
  secret_note: "string hidden",
  internal_score: { type: "int", readonly: true, hidden: true, default: 7 },
  age: { type: "int", min: 0, max: 150 },
  org_id: "ref orgs",
  username: "string unique min_length 3",
  prefs: "json",
  birthday: "date",
  seen_at: "datetime",
  joined_at: "timestamp default now",
  external_id: "uuid",
};

function columnsSpec() {
  const spec = authSpec({ columns: COLUMNS });
  (spec.tables as Record<string, unknown>).orgs = { columns: { name: "string required" } };
  return spec;
}

describe("POST /auth/signup with custom columns", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([columnsSpec()]);
    dbOf(inst).query(`INSERT INTO orgs(id, created_at, updated_at, name) VALUES (?, 'x', 'x', 'Acme')`).run(ORG_ID);
  });
  afterAll(() => inst.close());

  let n = 0;
  const fresh = () => `user${++n}@example.com`;
  const ok = (extra: Record<string, unknown> = {}) => ({ email: fresh(), password: PASSWORD, display_name: "Ann", ...extra });

  const cases: { name: string; body?: unknown; raw?: string; status: number; code: string; field?: string }[] = [
    { name: "an empty body", raw: "", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "malformed JSON", raw: "{\"email\":", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a JSON array", raw: "[]", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "JSON null", raw: "null", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "a JSON string", raw: "\"hello\"", status: 400, code: "VALIDATION_MALFORMED_JSON" },
    { name: "an empty object", body: {}, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "email" },
    { name: "a missing email", body: { password: PASSWORD, display_name: "A" }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "email" },
    { name: "a numeric email", body: { email: 42, password: PASSWORD, display_name: "A" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "email" },
    { name: "an email without a domain dot", body: { email: "a@localhost", password: PASSWORD, display_name: "A" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "email" },
    { name: "an email of 255 characters", body: { email: `${"a".repeat(64)}@${"b".repeat(186)}.io`, password: PASSWORD, display_name: "A" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "email" },
    { name: "a missing password", body: { email: "x@example.com", display_name: "A" }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "password" },
    { name: "a numeric password", body: { email: "x@example.com", password: 12345678, display_name: "A" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "password" },
    { name: "a 7-character password", body: { email: "x@example.com", password: "1234567", display_name: "A" }, status: 400, code: "VALIDATION_WEAK_PASSWORD", field: "password" },
    { name: "a 129-character password", body: { email: "x@example.com", password: "p".repeat(129), display_name: "A" }, status: 400, code: "VALIDATION_WEAK_PASSWORD", field: "password" },
    { name: "a missing required column", body: { email: "x@example.com", password: PASSWORD }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "display_name" },
    { name: "null for a required column", body: { email: "x@example.com", password: PASSWORD, display_name: null }, status: 400, code: "VALIDATION_REQUIRED_FIELD", field: "display_name" },
    { name: "a string over max_length", body: { email: "x@example.com", password: PASSWORD, display_name: "x".repeat(11) }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "display_name" },
    { name: "a string under min_length", body: { email: "x@example.com", password: PASSWORD, display_name: "A", username: "ab" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "username" },
    { name: "a number for a string column", body: { email: "x@example.com", password: PASSWORD, display_name: 5 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "display_name" },
    { name: "a bad enum value", body: { email: "x@example.com", password: PASSWORD, display_name: "A", plan: "gold" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "plan" },
    { name: "a string for a bool column", body: { email: "x@example.com", password: PASSWORD, display_name: "A", newsletter: "yes" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "newsletter" },
    { name: "1 for a bool column", body: { email: "x@example.com", password: PASSWORD, display_name: "A", newsletter: 1 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "newsletter" },
    { name: "a fraction for an int column", body: { email: "x@example.com", password: PASSWORD, display_name: "A", age: 1.5 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "age" },
    { name: "a numeric string for an int column", body: { email: "x@example.com", password: PASSWORD, display_name: "A", age: "30" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "age" },
    { name: "an int below min", body: { email: "x@example.com", password: PASSWORD, display_name: "A", age: -1 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "age" },
    { name: "an int above max", body: { email: "x@example.com", password: PASSWORD, display_name: "A", age: 151 }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "age" },
    { name: "an impossible date", body: { email: "x@example.com", password: PASSWORD, display_name: "A", birthday: "2021-02-30" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "birthday" },
    { name: "a datetime without a zone", body: { email: "x@example.com", password: PASSWORD, display_name: "A", seen_at: "2021-02-03T04:05:06" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "seen_at" },
    { name: "a ref that is not a uuid", body: { email: "x@example.com", password: PASSWORD, display_name: "A", org_id: "acme" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "org_id" },
    { name: "a ref to a missing row", body: { email: "x@example.com", password: PASSWORD, display_name: "A", org_id: MISSING_ID }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "org_id" },
    { name: "a bad uuid", body: { email: "x@example.com", password: PASSWORD, display_name: "A", external_id: "nope" }, status: 400, code: "VALIDATION_INVALID_FIELD", field: "external_id" },
    { name: "an unknown field", body: { email: "x@example.com", password: PASSWORD, display_name: "A", nickname: "x" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "nickname" },
    { name: "__proto__", raw: `{"email":"x@example.com","password":"${PASSWORD}","display_name":"A","__proto__":{"role":"admin"}}`, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "__proto__" },
    { name: "constructor", body: { email: "x@example.com", password: PASSWORD, display_name: "A", constructor: { prototype: {} } }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "constructor" },
    { name: "a readonly column (role)", body: { email: "x@example.com", password: PASSWORD, display_name: "A", role: "admin" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "role" },
    { name: "a hidden readonly column", body: { email: "x@example.com", password: PASSWORD, display_name: "A", internal_score: 99 }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "internal_score" },
    { name: "email_verified", body: { email: "x@example.com", password: PASSWORD, display_name: "A", email_verified: true }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "email_verified" },
    { name: "password_hash", body: { email: "x@example.com", password: PASSWORD, display_name: "A", password_hash: "$argon2id$x" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "password_hash" },
    { name: "id", body: { email: "x@example.com", password: PASSWORD, display_name: "A", id: MISSING_ID }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "id" },
    { name: "created_at", body: { email: "x@example.com", password: PASSWORD, display_name: "A", created_at: "2020-01-01T00:00:00Z" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "created_at" },
    { name: "_email_canonical", body: { email: "x@example.com", password: PASSWORD, display_name: "A", _email_canonical: "y@example.com" }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "_email_canonical" },
    { name: "_password_version", body: { email: "x@example.com", password: PASSWORD, display_name: "A", _password_version: 9 }, status: 400, code: "VALIDATION_UNKNOWN_FIELD", field: "_password_version" },
    { name: "a body over 64 KiB", raw: JSON.stringify({ email: "x@example.com", password: PASSWORD, display_name: "x".repeat(70 * 1024) }), status: 413, code: "PAYLOAD_TOO_LARGE" },
  ];
  for (const c of cases) {
    it(`answers ${c.status} ${c.code} for ${c.name} and creates no account`, async () => {
      const before = (dbOf(inst).query("SELECT count(*) AS n FROM users").get() as { n: number }).n;
      const r = await inst.req("POST", "/p/demo/auth/signup", c.raw !== undefined ? { rawBody: c.raw } : { body: c.body });
      expectError(r, c.status, c.code, c.field);
      expect(r.text).not.toContain(PASSWORD);
      expect((dbOf(inst).query("SELECT count(*) AS n FROM users").get() as { n: number }).n).toBe(before);
    });
  }

  it("answers 201 with tokens and the user, applies defaults and hides hidden columns", async () => {
    const email = fresh();
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: ok({ email: `  ${email.toUpperCase()}  `, secret_note: "psst" }) });
    expect(r.status).toBe(201);
    expect(r.headers.get("cache-control")).toBe("no-store");
    const { token, refresh_token, user } = r.body.data;
    expect(token.split(".")).toHaveLength(3);
    expect(refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    expect(user).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      email: email.toUpperCase(),
      email_verified: false,
      created_at: "2026-01-15T12:00:00.000Z",
      updated_at: "2026-01-15T12:00:00.000Z",
      display_name: "Ann",
      role: "user",
      plan: "free",
      newsletter: false,
      age: null,
      org_id: null,
      username: null,
      prefs: null,
      birthday: null,
      seen_at: null,
      joined_at: Math.floor(inst.clock.now / 1000),
      external_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const row = dbOf(inst).query("SELECT * FROM users WHERE id = ?").get(user.id) as Record<string, unknown>;
    expect(row._email_canonical).toBe(email.toLowerCase());
    expect(row.secret_note).toBe("psst");
    expect(row.internal_score).toBe(7);
    expect(String(row.password_hash)).toStartWith("$argon2id$");
    const me = await inst.req("GET", "/p/demo/auth/me", { token });
    expect(me.body.data.user).toEqual(user);
  });

  it("stores every type in its declared form and returns it as JSON", async () => {
    const r = await inst.req("POST", "/p/demo/auth/signup", {
      body: ok({
        display_name: "😀".repeat(10), // 10 code points, 20 UTF-16 units
        plan: "pro",
        newsletter: true,
        age: 42,
        org_id: ORG_ID.toUpperCase(),
        username: "ann",
        prefs: { theme: "dark", tags: [1, "a", null] },
        birthday: "2000-02-29",
        seen_at: "2021-02-03T04:05:06+02:00",
        external_id: "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE",
      }),
    });
    expect(r.status).toBe(201);
    expect(r.body.data.user).toMatchObject({
      display_name: "😀".repeat(10),
      plan: "pro",
      newsletter: true,
      age: 42,
      org_id: ORG_ID,
      username: "ann",
      prefs: { theme: "dark", tags: [1, "a", null] },
      birthday: "2000-02-29",
      seen_at: "2021-02-03T02:05:06.000Z",
      external_id: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
    });
  });

  it("answers 409 VALIDATION_DUPLICATE naming the email for an email in another case", async () => {
    const email = fresh();
    await signUp(inst, email, { fields: { display_name: "A" } });
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: ok({ email: email.toUpperCase() }) });
    expectError(r, 409, "VALIDATION_DUPLICATE", "email");
  });

  it("answers 409 VALIDATION_DUPLICATE naming a unique custom column", async () => {
    await signUp(inst, fresh(), { fields: { display_name: "A", username: "taken" } });
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: ok({ username: "taken" }) });
    expectError(r, 409, "VALIDATION_DUPLICATE", "username");
  });

  it("never answers with SQL text, a stack or a path", async () => {
    await signUp(inst, fresh(), { fields: { display_name: "A", username: "sqlcheck" } });
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: ok({ username: "sqlcheck" }) });
    expect(r.status).toBe(409);
    expect(r.text).not.toMatch(/UNIQUE|constraint|SQLITE|INSERT|\bat \/|\.ts:/i);
  });
});

describe("signup races", () => {
  let inst: TestInstance | null = null;
  afterEach(async () => {
    await inst?.close();
    inst = null;
  });

  it("creates exactly one account for 50 concurrent signups of one email in mixed case (49 × 409, no 5xx)", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { signup_per_ip: "off" } } })]);
    const variants = Array.from({ length: 50 }, (_, i) =>
      [..."race@example.com"].map((ch, j) => ((i >> (j % 6)) & 1 ? ch.toUpperCase() : ch)).join(""),
    );
    const results = await Promise.all(
      variants.map((email) => inst!.req("POST", "/p/demo/auth/signup", { body: { email, password: PASSWORD } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    expect(statuses.filter((s) => s >= 500)).toHaveLength(0);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.field).toBe("email");
    const n = dbOf(inst).query("SELECT count(*) AS n FROM users WHERE _email_canonical = 'race@example.com'").get() as { n: number };
    expect(n.n).toBe(1);
  });
});

describe("signup options", () => {
  let inst: TestInstance | null = null;
  afterEach(async () => {
    await inst?.close();
    inst = null;
  });

  it("queues one verification email in the signup transaction when the table has verify_email", async () => {
    inst = await createTestInstance([authSpec({ verifyEmail: true })]);
    const s = await signUp(inst, "v@example.com");
    expect(s.user.email_verified).toBe(false);
    expect(mailCount(inst, "verify_email")).toBe(1);
  });

  it("queues no mail without verify_email", async () => {
    inst = await createTestInstance([authSpec()]);
    await signUp(inst, "nv@example.com");
    expect(mailCount(inst)).toBe(0);
  });

  it("answers 201 with the user and no tokens when require_verified_email", async () => {
    inst = await createTestInstance([authSpec({ verifyEmail: true, auth: { require_verified_email: true } })]);
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "rv@example.com", password: PASSWORD } });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body.data)).toEqual(["user"]);
    expect(r.body.data.user.email_verified).toBe(false);
    const sessions = dbOf(inst).query("SELECT count(*) AS n FROM _sessions").get() as { n: number };
    expect(sessions.n).toBe(0);
  });

  it("refuses a common password with VALIDATION_WEAK_PASSWORD when reject_common, whatever its case", async () => {
    inst = await createTestInstance([authSpec({ auth: { password: { reject_common: true } } })]);
    for (const pw of ["password123", "Password123", "QWERTY123", "iloveyou1"]) {
      const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "c@example.com", password: pw } });
      expectError(r, 400, "VALIDATION_WEAK_PASSWORD", "password");
    }
    expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email: "c@example.com", password: "violet kettle drum" } })).status).toBe(201);
  });

  it("accepts a common password when reject_common is off", async () => {
    inst = await createTestInstance([authSpec()]);
    expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email: "c@example.com", password: "password123" } })).status).toBe(201);
  });

  it("applies min_length in code points and never below 8", async () => {
    inst = await createTestInstance([authSpec({ auth: { password: { min_length: 10, max_length: 12 } } })]);
    expectError(await inst.req("POST", "/p/demo/auth/signup", { body: { email: "l@example.com", password: "123456789" } }), 400, "VALIDATION_WEAK_PASSWORD");
    expectError(await inst.req("POST", "/p/demo/auth/signup", { body: { email: "l@example.com", password: "1234567890123" } }), 400, "VALIDATION_WEAK_PASSWORD");
    // 12 emoji are 24 UTF-16 units but 12 code points: within max_length.
    expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email: "l@example.com", password: "🔑".repeat(12) } })).status).toBe(201);
  });

  it("counts malformed requests toward no limit, then answers 429 with Retry-After past signup_per_ip", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { signup_per_ip: { max: 2, window: "1h" } } } })]);
    for (let i = 0; i < 5; i++) {
      expectError(await inst.req("POST", "/p/demo/auth/signup", { rawBody: "{nope" }), 400, "VALIDATION_MALFORMED_JSON");
      expectError(await inst.req("POST", "/p/demo/auth/signup", { body: { email: "x@example.com", password: "short" } }), 400, "VALIDATION_WEAK_PASSWORD");
    }
    await signUp(inst, "one@example.com");
    await signUp(inst, "two@example.com");
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "three@example.com", password: PASSWORD } });
    expectError(r, 429, "RATE_LIMITED");
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(counterOf(inst, "signup_per_ip:127.0.0.1")).toBe(3);
    // Another client IP has its own counter.
    expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email: "three@example.com", password: PASSWORD }, ip: "203.0.113.9" })).status).toBe(201);
    inst.clock.advance(3600_000);
    await signUp(inst, "four@example.com");
  });

  it("answers 503 SERVICE_UNAVAILABLE with Retry-After when the hash queue is full, and no 500", async () => {
    inst = await createTestInstance(
      [authSpec({ auth: { hasher: { algorithm: "argon2id", options: { memory_cost: 19456, time_cost: 2 } }, rate_limits: { signup_per_ip: "off" } } })],
      { boot: { hashConcurrency: 1, hashQueueLimit: 0 } },
    );
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => inst!.req("POST", "/p/demo/auth/signup", { body: { email: `q${i}@example.com`, password: PASSWORD } })),
    );
    const busy = results.filter((r) => r.status === 503);
    expect(results.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 201 || r.status === 503)).toBe(true);
    for (const r of busy) {
      expect(r.body.error.code).toBe("SERVICE_UNAVAILABLE");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    const n = dbOf(inst).query("SELECT count(*) AS n FROM users").get() as { n: number };
    expect(n.n).toBe(results.filter((r) => r.status === 201).length);
  });

  it("answers 404 AUTH_NOT_ENABLED for a project without an auth table", async () => {
    inst = await createTestInstance([{ id: "plain", tables: { notes: { columns: { body: "text" } } } }]);
    expectError(await inst.req("POST", "/p/plain/auth/signup", { body: { email: "a@example.com", password: PASSWORD } }), 404, "AUTH_NOT_ENABLED");
  });
});
