import { afterEach, describe, expect, it } from "bun:test";
import type { TestInstance } from "../helpers/instance.ts";
import { PASSWORD, dbOf, expectError, logIn, mailCount, runtimeOf, signUp } from "../helpers/auth.ts";
import { ADMIN_KEY, OTHER_ADMIN_KEY, PUBLIC_KEY, accountsInstance, accountsSpec, admin, lastLinkToken } from "./helpers.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

describe("admin users API: who may call it", () => {
  it("refuses no key, a wrong sk_, a pk_, a user token and another project's admin key with 401", async () => {
    inst = await accountsInstance([accountsSpec({ id: "other", adminKey: OTHER_ADMIN_KEY })]);
    const s = await signUp(inst, "ann@example.com");
    const cases: [Record<string, string>, string][] = [
      [{}, "ADMIN_KEY_REQUIRED"],
      [{ "x-admin-key": "sk_" + "Z".repeat(43) }, "ADMIN_KEY_INVALID"],
      [{ "x-admin-key": PUBLIC_KEY }, "ADMIN_KEY_INVALID"],
      [{ authorization: `Bearer ${s.token}` }, "ADMIN_KEY_INVALID"],
      [{ "x-admin-key": OTHER_ADMIN_KEY }, "ADMIN_KEY_INVALID"],
    ];
    const paths = [["GET", "/users"], ["GET", `/users/${s.user.id}`], ["POST", `/users/${s.user.id}/ban`], ["GET", "/audit"], ["DELETE", `/users/${s.user.id}`]];
    for (const [i, [method, path]] of paths.entries()) {
      for (const [headers, code] of cases) {
        // One client IP per endpoint, so the admin-key failure limit (20 per IP) is not reached.
        const r = await inst.req(method, `/p/demo/v1${path}`, { headers, ip: `10.0.0.${i + 1}`, body: method === "GET" ? undefined : {} });
        expectError(r, 401, code);
      }
    }
    // The other project's key works on its own project only.
    expect((await admin(inst, "GET", "/users", undefined, "other")).status).toBe(200);
    expect((await admin(inst, "GET", `/users/${s.user.id}`)).status).toBe(200);
  });
});

describe("GET /v1/users", () => {
  it("lists users in created_at order with the admin view, and pages with an opaque cursor", async () => {
    inst = await accountsInstance();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await signUp(inst, `user${i}@example.com`)).user.id);
      inst.clock.advance(1000);
    }
    const first = await admin(inst, "GET", "/users?limit=2");
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.body.data.users.map((u: { id: string }) => u.id)).toEqual(ids.slice(0, 2));
    const u0 = first.body.data.users[0];
    expect(Object.keys(u0).sort()).toEqual(
      ["age", "ban_reason", "banned", "banned_until", "created_at", "display_name", "email", "email_verified", "id", "last_login_at", "note", "role", "updated_at"],
    );
    expect(JSON.stringify(first.body)).not.toContain("password");
    expect(typeof first.body.data.next_cursor).toBe("string");
    const second = await admin(inst, "GET", `/users?limit=2&cursor=${encodeURIComponent(first.body.data.next_cursor)}`);
    expect(second.body.data.users.map((u: { id: string }) => u.id)).toEqual(ids.slice(2, 4));
    const third = await admin(inst, "GET", `/users?limit=2&cursor=${encodeURIComponent(second.body.data.next_cursor)}`);
    expect(third.body.data.users.map((u: { id: string }) => u.id)).toEqual(ids.slice(4));
    expect(third.body.data.next_cursor).toBeNull();
  });

  it("filters by email prefix, exact id, verified and banned", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "Ann@Example.com");
    await signUp(inst, "anna@example.com");
    const bob = await signUp(inst, "bob@example.com");
    await admin(inst, "PATCH", `/users/${bob.user.id}`, { email_verified: true });
    await admin(inst, "POST", `/users/${ann.user.id}/ban`, {});
    const emails = async (qs: string) => ((await admin(inst, "GET", `/users?${qs}`)).body.data.users as { email: string }[]).map((u) => u.email).sort();
    expect(await emails("q=ann")).toEqual(["Ann@Example.com", "anna@example.com"]);
    expect(await emails("q=ANN%40")).toEqual(["Ann@Example.com"]);
    expect(await emails(`q=${bob.user.id.toUpperCase()}`)).toEqual(["bob@example.com"]);
    expect(await emails("q=a%25")).toEqual([]); // % is a plain character, not a wildcard
    expect(await emails("verified=true")).toEqual(["bob@example.com"]);
    expect(await emails("verified=false")).toEqual(["Ann@Example.com", "anna@example.com"]);
    expect(await emails("banned=true")).toEqual(["Ann@Example.com"]);
    expect(await emails("banned=false")).toEqual(["anna@example.com", "bob@example.com"]);
  });

  it("answers bad queries with 400 and the SPEC code, never 5xx", async () => {
    inst = await accountsInstance([accountsSpec({ id: "other", adminKey: OTHER_ADMIN_KEY })]);
    for (let i = 0; i < 3; i++) await signUp(inst, `u${i}@example.com`);
    await signUp(inst, "x@example.com", { project: "other" });
    await signUp(inst, "y@example.com", { project: "other" });
    const page = await admin(inst, "GET", "/users?limit=1");
    const cursor: string = page.body.data.next_cursor;
    const otherCursor: string = (await admin(inst, "GET", "/users?limit=1", undefined, "other")).body.data.next_cursor ?? "";
    const [body, mac] = cursor.split(".");
    const forged = Buffer.from(JSON.stringify(["0000", UNKNOWN_ID])).toString("base64url") + "." + mac;
    const auditCursor = (await admin(inst, "GET", "/audit?limit=1")).body.data.next_cursor as string;
    const cases: [string, string, string][] = [
      ["limit=0", "VALIDATION_INVALID_FIELD", "limit"],
      ["limit=201", "VALIDATION_INVALID_FIELD", "limit"],
      ["limit=abc", "VALIDATION_INVALID_FIELD", "limit"],
      ["limit=1.5", "VALIDATION_INVALID_FIELD", "limit"],
      ["verified=yes", "VALIDATION_INVALID_FIELD", "verified"],
      ["banned=1", "VALIDATION_INVALID_FIELD", "banned"],
      [`q=${"a".repeat(10 * 1024)}`, "VALIDATION_INVALID_FIELD", "q"],
      ["q=", "VALIDATION_INVALID_FIELD", "q"],
      ["q=%20%20", "VALIDATION_INVALID_FIELD", "q"],
      ["q=a&q=b", "VALIDATION_INVALID_FIELD", "q"],
      ["limit=1&limit=2", "VALIDATION_INVALID_FIELD", "limit"],
      ["cursor=a&cursor=b", "VALIDATION_INVALID_FIELD", "cursor"],
      ["sort=email", "VALIDATION_UNKNOWN_FIELD", "sort"],
      [`cursor=${encodeURIComponent(body + "." + mac.slice(0, -2) + "AA")}`, "VALIDATION_INVALID_FIELD", "cursor"],
      [`cursor=${encodeURIComponent(forged)}`, "VALIDATION_INVALID_FIELD", "cursor"],
      [`cursor=${encodeURIComponent(otherCursor)}`, "VALIDATION_INVALID_FIELD", "cursor"],
      [`cursor=${encodeURIComponent(auditCursor)}`, "VALIDATION_INVALID_FIELD", "cursor"],
      ["cursor=garbage", "VALIDATION_INVALID_FIELD", "cursor"],
      [`cursor=${"x".repeat(5000)}`, "VALIDATION_INVALID_FIELD", "cursor"],
    ];
    expect(otherCursor).not.toBe("");
    for (const [qs, code, field] of cases) expectError(await admin(inst, "GET", `/users?${qs}`), 400, code, field);
  });

  it("sees each of 5,000 users exactly once while 500 more are inserted between pages", async () => {
    inst = await accountsInstance();
    const db = dbOf(inst);
    const base = inst.clock.now - 86_400_000;
    const existing = new Set<string>();
    // Seeded straight into the table (on either engine), 1,000 rows per statement.
    for (let batch = 0; batch < 5; batch++) {
      const values: (string | number)[] = [];
      for (let i = batch * 1000; i < (batch + 1) * 1000; i++) {
        const id = crypto.randomUUID();
        // Many share a created_at, so the id tie-break matters.
        const at = new Date(base + Math.floor(i / 7) * 1000).toISOString();
        values.push(id, at, at, `seed${i}@example.com`, `seed${i}@example.com`);
        existing.add(id);
      }
      const rows = Array.from({ length: 1000 }, () => "(?, ?, ?, ?, ?, 'x')").join(", ");
      expect(db.query(`INSERT INTO users(id, created_at, updated_at, email, _email_canonical, password_hash) VALUES ${rows}`).run(...values).changes).toBe(1000);
    }
    const seen = new Map<string, number>();
    let cursor: string | null = null;
    let extra = 0;
    let pages = 0;
    do {
      const r = await admin(inst, "GET", `/users?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(r.status).toBe(200);
      for (const u of r.body.data.users as { id: string }[]) seen.set(u.id, (seen.get(u.id) ?? 0) + 1);
      cursor = r.body.data.next_cursor;
      pages++;
      // 500 more users arrive while the listing runs (20 per page, through the API).
      for (let k = 0; k < 20 && extra < 500; k++, extra++) {
        inst.clock.advance(1);
        const c = await admin(inst, "POST", "/users", { email: `late${extra}@example.com` });
        expect(c.status).toBe(201);
      }
    } while (cursor !== null);
    expect(extra).toBe(500);
    for (const id of existing) expect(seen.get(id)).toBe(1);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(pages).toBeGreaterThanOrEqual(25);
  }, 120_000);
});

describe("GET/POST/PATCH/DELETE /v1/users/{id}", () => {
  it("creates a user with readonly and hidden columns, with or without a password", async () => {
    inst = await accountsInstance();
    const r = await admin(inst, "POST", "/users", { email: "Op@Example.com", password: PASSWORD, role: "admin", note: "vip", email_verified: true, display_name: "Op" });
    expect(r.status).toBe(201);
    expect(r.body.data.user).toMatchObject({ email: "Op@Example.com", role: "admin", note: "vip", email_verified: true, banned: false, last_login_at: null });
    const s = await logIn(inst, "op@example.com");
    expect(s.user.role).toBe("admin");
    expect(s.user.note).toBeUndefined(); // hidden from the end user
    expect((await admin(inst, "GET", `/users/${r.body.data.user.id}`)).body.data.user.last_login_at).not.toBeNull();

    const nopw = await admin(inst, "POST", "/users", { email: "nopw@example.com" });
    expect(nopw.status).toBe(201);
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "nopw@example.com", password: "!no-password" } }), 401, "AUTH_INVALID_CREDENTIALS");
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "nopw@example.com", password: PASSWORD } }), 401, "AUTH_INVALID_CREDENTIALS");
    // ...until a reset sets a password.
    expect((await admin(inst, "POST", `/users/${nopw.body.data.user.id}/send-password-reset`, { redirect_url: "https://myapp.com/reset" })).status).toBe(200);
    const token = await lastLinkToken(inst, "nopw@example.com", "Reset your");
    expect((await inst.req("POST", "/p/demo/auth/reset-password", { body: { token, new_password: "a brand new password" } })).status).toBe(200);
    await logIn(inst, "nopw@example.com", { password: "a brand new password" });
  });

  it("answers bad create, get, patch and delete input with 4xx and the SPEC code", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    const id = ann.user.id;
    const cases: [string, string, unknown, number, string, string?][] = [
      ["POST", "/users", {}, 400, "VALIDATION_REQUIRED_FIELD", "email"],
      ["POST", "/users", { email: "not-an-email" }, 400, "VALIDATION_INVALID_FIELD", "email"],
      ["POST", "/users", { email: 42 }, 400, "VALIDATION_INVALID_FIELD", "email"],
      ["POST", "/users", { email: "a@example.com", password: "short" }, 400, "VALIDATION_WEAK_PASSWORD", "password"],
      ["POST", "/users", { email: "a@example.com", password: 12345678 }, 400, "VALIDATION_INVALID_FIELD", "password"],
      ["POST", "/users", { email: "a@example.com", email_verified: "yes" }, 400, "VALIDATION_INVALID_FIELD", "email_verified"],
      ["POST", "/users", { email: "a@example.com", role: "root" }, 400, "VALIDATION_INVALID_FIELD", "role"],
      ["POST", "/users", { email: "a@example.com", age: "3" }, 400, "VALIDATION_INVALID_FIELD", "age"],
      ["POST", "/users", { email: "a@example.com", password_hash: "x" }, 400, "VALIDATION_UNKNOWN_FIELD", "password_hash"],
      ["POST", "/users", { email: "a@example.com", id: UNKNOWN_ID }, 400, "VALIDATION_UNKNOWN_FIELD", "id"],
      ["POST", "/users", { email: "a@example.com", _password_version: 3 }, 400, "VALIDATION_UNKNOWN_FIELD", "_password_version"],
      ["POST", "/users", { email: "ANN@example.com" }, 409, "VALIDATION_DUPLICATE", "email"],
      ["GET", "/users/not-a-uuid", undefined, 400, "VALIDATION_INVALID_FIELD", "id"],
      ["GET", "/users/1' OR '1'='1", undefined, 400, "VALIDATION_INVALID_FIELD", "id"],
      ["GET", `/users/${UNKNOWN_ID}`, undefined, 404, "USER_NOT_FOUND"],
      ["PATCH", `/users/${id}`, { display_name: 5 }, 400, "VALIDATION_INVALID_FIELD", "display_name"],
      ["PATCH", `/users/${id}`, { email: "nope" }, 400, "VALIDATION_INVALID_FIELD", "email"],
      ["PATCH", `/users/${id}`, { password: PASSWORD }, 400, "VALIDATION_UNKNOWN_FIELD", "password"],
      ["PATCH", `/users/${id}`, { created_at: "2020-01-01T00:00:00Z" }, 400, "VALIDATION_UNKNOWN_FIELD", "created_at"],
      ["PATCH", `/users/${id}`, { bogus: 1 }, 400, "VALIDATION_UNKNOWN_FIELD", "bogus"],
      ["PATCH", `/users/${id}`, [1], 400, "VALIDATION_MALFORMED_JSON"],
      ["PATCH", `/users/${UNKNOWN_ID}`, { display_name: "x" }, 404, "USER_NOT_FOUND"],
      ["PATCH", "/users/zzz", { display_name: "x" }, 400, "VALIDATION_INVALID_FIELD", "id"],
      ["DELETE", `/users/${UNKNOWN_ID}`, undefined, 404, "USER_NOT_FOUND"],
      ["DELETE", "/users/123", undefined, 400, "VALIDATION_INVALID_FIELD", "id"],
    ];
    for (const [method, path, body, status, code, field] of cases) {
      const r = await admin(inst, method, path, body);
      expectError(r, status, code, field);
    }
    const raw = await inst.req("POST", "/p/demo/v1/users", { rawBody: "{nope", headers: { "x-admin-key": ADMIN_KEY } });
    expectError(raw, 400, "VALIDATION_MALFORMED_JSON");
    // Nothing was created by any refused request.
    expect((await admin(inst, "GET", "/users")).body.data.users).toHaveLength(1);
  });

  it("patches readonly and hidden columns, email and email_verified; a taken email is 409", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    await signUp(inst, "bob@example.com");
    const r = await admin(inst, "PATCH", `/users/${ann.user.id}`, { role: "admin", note: "watch", email: "Ann2@Example.com", email_verified: true, age: 30 });
    expect(r.status).toBe(200);
    expect(r.body.data.user).toMatchObject({ role: "admin", note: "watch", email: "Ann2@Example.com", email_verified: true, age: 30 });
    await logIn(inst, "ann2@example.com");
    expectError(await admin(inst, "PATCH", `/users/${ann.user.id}`, { email: "BOB@example.com" }), 409, "VALIDATION_DUPLICATE", "email");
    expect((await admin(inst, "GET", `/users/${ann.user.id}`)).body.data.user.email).toBe("Ann2@Example.com");
  });

  it("deletes a user with cascade rows; a restrict reference answers 409 CONFLICT naming the table", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const ann = await signUp(inst, "ann@example.com");
    const now = new Date(inst.clock.now).toISOString();
    dbOf(inst).query("INSERT INTO posts(id, created_at, updated_at, author, body) VALUES (?, ?, ?, ?, 'hi')").run(crypto.randomUUID(), now, now, ann.user.id);
    const inv = crypto.randomUUID();
    dbOf(inst).query("INSERT INTO invoices(id, created_at, updated_at, owner, amount) VALUES (?, ?, ?, ?, 5)").run(inv, now, now, ann.user.id);
    const blocked = await admin(inst, "DELETE", `/users/${ann.user.id}`);
    expectError(blocked, 409, "CONFLICT");
    expect(blocked.body.error.message).toContain("invoices");
    expect((await admin(inst, "GET", `/users/${ann.user.id}`)).status).toBe(200);
    expect((dbOf(inst).query("SELECT count(*) AS n FROM posts").get() as { n: number }).n).toBe(1);

    dbOf(inst).query("DELETE FROM invoices WHERE id = ?").run(inv);
    const r = await admin(inst, "DELETE", `/users/${ann.user.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { ok: true } });
    expect((dbOf(inst).query("SELECT count(*) AS n FROM posts").get() as { n: number }).n).toBe(0);
    expect((dbOf(inst).query("SELECT count(*) AS n FROM _sessions WHERE user_id = ?").get(ann.user.id) as { n: number }).n).toBe(0);
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: ann.token }), 401, "AUTH_INVALID_TOKEN");
    expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: ann.refresh_token } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
    expectError(await admin(inst, "GET", `/users/${ann.user.id}`), 404, "USER_NOT_FOUND");
    await signUp(inst, "ann@example.com");
  });
});

describe("ban and unban", () => {
  it("ends every session at once; banned login: right password 403, wrong password 401; unban lets the user in", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    const second = await logIn(inst, "ann@example.com");
    const r = await admin(inst, "POST", `/users/${ann.user.id}/ban`, { reason: "spam" });
    expect(r.status).toBe(200);
    expect(r.body.data.user).toMatchObject({ banned: true, banned_until: null, ban_reason: "spam" });
    for (const s of [ann, second]) {
      expectError(await inst.req("GET", "/p/demo/auth/me", { token: s.token }), 401, "AUTH_INVALID_TOKEN");
      expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
    }
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } }), 403, "AUTH_USER_BANNED");
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: "wrong password!" } }), 401, "AUTH_INVALID_CREDENTIALS");
    // forgot-password sends nothing to a banned user, with the usual answer.
    const before = mailCount(inst, "reset_password");
    const f = await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "ann@example.com", redirect_url: "https://myapp.com/r" } });
    expect(f.status).toBe(200);
    expect(mailCount(inst, "reset_password")).toBe(before);
    expect((await admin(inst, "GET", `/users/${ann.user.id}/sessions`)).body.data.sessions).toEqual([]);

    const u = await admin(inst, "POST", `/users/${ann.user.id}/unban`);
    expect(u.body.data.user).toMatchObject({ banned: false, banned_until: null, ban_reason: null });
    await logIn(inst, "ann@example.com");
  });

  it("a ban with until lifts itself then", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    const until = new Date(inst.clock.now + 3_600_000).toISOString();
    const r = await admin(inst, "POST", `/users/${ann.user.id}/ban`, { until, reason: "cool down" });
    expect(r.body.data.user.banned_until).toBe(until);
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } }), 403, "AUTH_USER_BANNED");
    inst.clock.advance(3_600_000);
    await logIn(inst, "ann@example.com");
    expect((await admin(inst, "GET", `/users/${ann.user.id}`)).body.data.user.banned).toBe(false);
  });

  it("refuses bad ban input with 400 and the SPEC code", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    const past = new Date(inst.clock.now - 1000).toISOString();
    const cases: [unknown, string, string][] = [
      [{ until: past }, "VALIDATION_INVALID_FIELD", "until"],
      [{ until: "tomorrow" }, "VALIDATION_INVALID_FIELD", "until"],
      [{ until: "2099-01-01" }, "VALIDATION_INVALID_FIELD", "until"],
      [{ until: "2099-13-45T00:00:00Z" }, "VALIDATION_INVALID_FIELD", "until"],
      [{ until: 4102444800 }, "VALIDATION_INVALID_FIELD", "until"],
      [{ reason: 5 }, "VALIDATION_INVALID_FIELD", "reason"],
      [{ reason: "x".repeat(501) }, "VALIDATION_INVALID_FIELD", "reason"],
      [{ forever: true }, "VALIDATION_UNKNOWN_FIELD", "forever"],
    ];
    for (const [body, code, field] of cases) expectError(await admin(inst, "POST", `/users/${ann.user.id}/ban`, body), 400, code, field);
    expectError(await admin(inst, "POST", `/users/${UNKNOWN_ID}/ban`, {}), 404, "USER_NOT_FOUND");
    expectError(await admin(inst, "POST", "/users/nope/ban", {}), 400, "VALIDATION_INVALID_FIELD", "id");
    expectError(await admin(inst, "POST", `/users/${UNKNOWN_ID}/unban`, {}), 404, "USER_NOT_FOUND");
    // None of them banned anyone.
    await logIn(inst, "ann@example.com");
  });
});

describe("sessions, revoke-sessions, send-password-reset, clear-lockout", () => {
  it("lists live sessions without `current` and revokes them all, answering how many", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD }, headers: { "user-agent": "Phone/1.0" } });
    const list = await admin(inst, "GET", `/users/${ann.user.id}/sessions`);
    expect(list.body.data.sessions).toHaveLength(2);
    expect(list.body.data.sessions[0]).not.toHaveProperty("current");
    expect(Object.keys(list.body.data.sessions[0]).sort()).toEqual(["created_at", "expires_at", "id", "ip", "last_used_at", "user_agent"]);
    const r = await admin(inst, "POST", `/users/${ann.user.id}/revoke-sessions`);
    expect(r.body).toEqual({ data: { revoked: 2 } });
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: ann.token }), 401, "AUTH_INVALID_TOKEN");
    expect((await admin(inst, "POST", `/users/${ann.user.id}/revoke-sessions`)).body).toEqual({ data: { revoked: 0 } });
    expectError(await admin(inst, "GET", `/users/${UNKNOWN_ID}/sessions`), 404, "USER_NOT_FOUND");
    expectError(await admin(inst, "POST", `/users/${UNKNOWN_ID}/revoke-sessions`), 404, "USER_NOT_FOUND");
  });

  it("send-password-reset queues one reset mail and validates redirect_url", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    expectError(await admin(inst, "POST", `/users/${ann.user.id}/send-password-reset`, {}), 400, "VALIDATION_REQUIRED_FIELD", "redirect_url");
    expectError(await admin(inst, "POST", `/users/${ann.user.id}/send-password-reset`, { redirect_url: "https://evil.com/x" }), 400, "VALIDATION_REDIRECT_URL", "redirect_url");
    expectError(await admin(inst, "POST", `/users/${ann.user.id}/send-password-reset`, { redirect_url: "https://myapp.com/x", x: 1 }), 400, "VALIDATION_UNKNOWN_FIELD", "x");
    expectError(await admin(inst, "POST", `/users/${UNKNOWN_ID}/send-password-reset`, { redirect_url: "https://myapp.com/x" }), 404, "USER_NOT_FOUND");
    expect(mailCount(inst, "reset_password")).toBe(0);
    expect((await admin(inst, "POST", `/users/${ann.user.id}/send-password-reset`, { redirect_url: "https://myapp.com/x" })).status).toBe(200);
    expect(mailCount(inst, "reset_password")).toBe(1);
  });

  it("clear-lockout (and unban) lift a login lockout at once", async () => {
    inst = await accountsInstance([], { auth: { rate_limits: { login_failures_per_account: { max: 2, window: "15m" } } } });
    const ann = await signUp(inst, "ann@example.com");
    for (let i = 0; i < 3; i++) await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: "wrong password!" } });
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } }), 429, "RATE_LIMITED");
    expect((await admin(inst, "POST", `/users/${ann.user.id}/clear-lockout`)).status).toBe(200);
    await logIn(inst, "ann@example.com");
    for (let i = 0; i < 3; i++) await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: "wrong password!" } });
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } }), 429, "RATE_LIMITED");
    await admin(inst, "POST", `/users/${ann.user.id}/unban`);
    await logIn(inst, "ann@example.com");
  });
});
