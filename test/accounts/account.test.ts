import { afterEach, describe, expect, it } from "bun:test";
import type { TestInstance } from "../helpers/instance.ts";
import { PASSWORD, expectError, logIn, mailCount, dbOf, runtimeOf, signUp } from "../helpers/auth.ts";
import { accountsInstance, admin, lastLinkToken } from "./helpers.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

describe("GET /auth/sessions and DELETE /auth/sessions/{sid}", () => {
  it("lists live sessions newest first with `current`, ip and a cut user agent", async () => {
    inst = await accountsInstance();
    const a = await signUp(inst, "ann@example.com");
    inst.clock.advance(1000);
    const ua = "Phone/" + "x".repeat(400);
    const r = await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD }, headers: { "user-agent": ua }, ip: "203.0.113.9" });
    const b = r.body.data;
    const list = await inst.req("GET", "/p/demo/auth/sessions", { token: a.token });
    expect(list.status).toBe(200);
    expect(list.headers.get("cache-control")).toBe("no-store");
    const sessions = list.body.data.sessions;
    expect(sessions).toHaveLength(2);
    expect(sessions[0]).toMatchObject({ ip: "203.0.113.9", user_agent: ua.slice(0, 256), current: false });
    expect(sessions[1]).toMatchObject({ current: true });
    expect(Object.keys(sessions[0]).sort()).toEqual(["created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"]);
    // last_used_at moves with a refresh.
    inst.clock.advance(5000);
    await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: b.refresh_token } });
    const after = (await inst.req("GET", "/p/demo/auth/sessions", { token: a.token })).body.data.sessions;
    expect(after[0].last_used_at).toBe(new Date(inst.clock.now).toISOString());
    // Ending the other session kills its refresh and access tokens at once.
    const del = await inst.req("DELETE", `/p/demo/auth/sessions/${sessions[0].id}`, { token: a.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { ok: true } });
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: b.token }), 401, "AUTH_INVALID_TOKEN");
    expect((await inst.req("GET", "/p/demo/auth/sessions", { token: a.token })).body.data.sessions).toHaveLength(1);
  });

  it("answers another user's, an unknown, an ended or a malformed sid with 4xx and leaves sessions alone", async () => {
    inst = await accountsInstance();
    const a = await signUp(inst, "ann@example.com");
    const bob = await signUp(inst, "bob@example.com");
    const bobSid = (await inst.req("GET", "/p/demo/auth/sessions", { token: bob.token })).body.data.sessions[0].id;
    expectError(await inst.req("DELETE", `/p/demo/auth/sessions/${bobSid}`, { token: a.token }), 404, "NOT_FOUND");
    expectError(await inst.req("DELETE", `/p/demo/auth/sessions/${UNKNOWN_ID}`, { token: a.token }), 404, "NOT_FOUND");
    expectError(await inst.req("DELETE", "/p/demo/auth/sessions/not-a-uuid", { token: a.token }), 400, "VALIDATION_INVALID_FIELD", "sid");
    expectError(await inst.req("DELETE", `/p/demo/auth/sessions/${bobSid}`), 401, "AUTH_REQUIRED");
    expectError(await inst.req("GET", "/p/demo/auth/sessions", { token: "nope" }), 401, "AUTH_INVALID_TOKEN");
    expect((await inst.req("GET", "/p/demo/auth/me", { token: bob.token })).status).toBe(200);
    const mine = (await inst.req("GET", "/p/demo/auth/sessions", { token: a.token })).body.data.sessions[0].id;
    expect((await inst.req("DELETE", `/p/demo/auth/sessions/${mine}`, { token: a.token })).status).toBe(200);
    expectError(await inst.req("DELETE", `/p/demo/auth/sessions/${mine}`, { token: a.token }), 401, "AUTH_INVALID_TOKEN");
  });
});

describe("POST /auth/change-email", () => {
  it("mails a link to the new address and a notice to the old; the email changes only on confirm", async () => {
    inst = await accountsInstance();
    const a = await signUp(inst, "ann@example.com");
    const other = await logIn(inst, "ann@example.com");
    const r = await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "Ann.New@Example.com", password: PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { ok: true } });
    expect(mailCount(inst, "email_change_confirm")).toBe(1);
    expect(mailCount(inst, "email_change_notice")).toBe(1);
    // Nothing changed yet.
    expect((await inst.req("GET", "/p/demo/auth/me", { token: a.token })).body.data.user.email).toBe("ann@example.com");
    const token = await lastLinkToken(inst, "Ann.New@Example.com", "Confirm your new email");
    expect(inst.mail.messages.some((m) => m.to === "ann@example.com" && m.subject.includes("email was requested"))).toBe(true);
    const confirm = await inst.req("GET", `/p/demo/auth/verify?token=${token}`, { headers: { accept: "application/json" } });
    expect(confirm.status).toBe(200);
    const row = dbOf(inst).query("SELECT email, email_verified, _password_version AS pv FROM users").get() as { email: string; email_verified: number; pv: number };
    expect(row).toEqual({ email: "Ann.New@Example.com", email_verified: 1, pv: 2 });
    // Access tokens refused (password version bumped); other sessions keep their refresh token.
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: a.token }), 401, "AUTH_INVALID_TOKEN");
    const refreshed = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: other.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: refreshed.body.data.token })).body.data.user.email).toBe("Ann.New@Example.com");
    await logIn(inst, "ann.new@example.com");
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } }), 401, "AUTH_INVALID_CREDENTIALS");
    // The old address gets no further mail: a reset request for it sends nothing.
    const sentBefore = inst.mail.messages.length;
    await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "ann@example.com", redirect_url: "https://myapp.com/r" } });
    await inst.outbox.deliver();
    expect(inst.mail.messages.slice(sentBefore).filter((m) => m.to === "ann@example.com")).toEqual([]);
  });

  it("answers bad input with the SPEC codes and queues no mail", async () => {
    inst = await accountsInstance();
    const a = await signUp(inst, "ann@example.com");
    await signUp(inst, "bob@example.com");
    const cases: [unknown, number, string, string?][] = [
      [{}, 400, "VALIDATION_REQUIRED_FIELD", "new_email"],
      [{ new_email: "x@example.com" }, 400, "VALIDATION_REQUIRED_FIELD", "password"],
      [{ new_email: "nope", password: PASSWORD }, 400, "VALIDATION_INVALID_FIELD", "new_email"],
      [{ new_email: 7, password: PASSWORD }, 400, "VALIDATION_INVALID_FIELD", "new_email"],
      [{ new_email: "x@example.com", password: 7 }, 400, "VALIDATION_INVALID_FIELD", "password"],
      [{ new_email: "x@example.com", password: PASSWORD, email: "y@example.com" }, 400, "VALIDATION_UNKNOWN_FIELD", "email"],
      [{ new_email: "x@example.com", password: PASSWORD, redirect_url: "https://evil.com/" }, 400, "VALIDATION_REDIRECT_URL", "redirect_url"],
      [{ new_email: "ANN@example.com", password: PASSWORD }, 400, "VALIDATION_INVALID_FIELD", "new_email"],
      [{ new_email: "x@example.com", password: "wrong password!" }, 401, "AUTH_INVALID_CREDENTIALS"],
      [{ new_email: "Bob@example.com", password: PASSWORD }, 409, "VALIDATION_DUPLICATE", "new_email"],
    ];
    for (const [body, status, code, field] of cases) {
      expectError(await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body }), status, code, field);
    }
    expectError(await inst.req("POST", "/p/demo/auth/change-email", { body: { new_email: "x@example.com", password: PASSWORD } }), 401, "AUTH_REQUIRED");
    expect(mailCount(inst, "email_change_confirm") + mailCount(inst, "email_change_notice")).toBe(0);
  });

  it("is limited by change_email_per_user, and only the newest link works", async () => {
    inst = await accountsInstance([], { auth: { rate_limits: { change_email_per_user: { max: 2, window: "1h" } } } });
    const a = await signUp(inst, "ann@example.com");
    expect((await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "n0@example.com", password: PASSWORD } })).status).toBe(200);
    const old = await lastLinkToken(inst, "n0@example.com", "Confirm your new email");
    expect((await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "n1@example.com", password: PASSWORD } })).status).toBe(200);
    expectError(await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "n9@example.com", password: PASSWORD } }), 429, "RATE_LIMITED");
    expectError(await inst.req("GET", `/p/demo/auth/verify?token=${old}`, { headers: { accept: "application/json" } }), 400, "AUTH_INVALID_LINK_TOKEN");
    const newest = await lastLinkToken(inst, "n1@example.com", "Confirm your new email");
    expect((await inst.req("GET", `/p/demo/auth/verify?token=${newest}`, { headers: { accept: "application/json" } })).status).toBe(200);
    inst.clock.advance(3_600_000);
  });

  it("a wrong password counts toward the account lockout shared with login", async () => {
    inst = await accountsInstance([], { auth: { rate_limits: { login_failures_per_account: { max: 3, window: "15m" } } } });
    const a = await signUp(inst, "ann@example.com");
    for (let i = 0; i < 3; i++) {
      expectError(await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "z@example.com", password: "wrong password!" } }), 401, "AUTH_INVALID_CREDENTIALS");
    }
    expectError(await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "z@example.com", password: PASSWORD } }), 429, "RATE_LIMITED");
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } }), 429, "RATE_LIMITED");
    expect(mailCount(inst, "email_change_confirm")).toBe(0);
  });

  it("two users confirming a change to the same new address at once: one 200, one 409", async () => {
    inst = await accountsInstance();
    const a = await signUp(inst, "ann@example.com");
    const b = await signUp(inst, "bob@example.com");
    for (const s of [a, b]) {
      expect((await inst.req("POST", "/p/demo/auth/change-email", { token: s.token, body: { new_email: "shared@example.com", password: PASSWORD } })).status).toBe(200);
    }
    await inst.outbox.deliver();
    const tokens = inst.mail.messages.filter((m) => m.to === "shared@example.com").map((m) => /token=([A-Za-z0-9_-]{43})/.exec(m.text)![1]);
    expect(tokens).toHaveLength(2);
    const results = await Promise.all(tokens.map((t) => inst.req("GET", `/p/demo/auth/verify?token=${t}`, { headers: { accept: "application/json" } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)!.body.error.code).toBe("VALIDATION_DUPLICATE");
    const emails = (dbOf(inst).query("SELECT email FROM users ORDER BY email").all() as { email: string }[]).map((r) => r.email);
    expect(emails.filter((e) => e === "shared@example.com")).toHaveLength(1);
    expect(emails).toHaveLength(2);
    // The loser's link was not spent by the 409: it fails again the same way, changing nothing.
    const loser = tokens[results.findIndex((r) => r.status === 409)];
    expectError(await inst.req("GET", `/p/demo/auth/verify?token=${loser}`, { headers: { accept: "application/json" } }), 409, "VALIDATION_DUPLICATE");
  });

  it("a change-email confirm racing a password reset leaves the user consistent", async () => {
    for (let round = 0; round < 4; round++) {
      inst = await accountsInstance();
      const a = await signUp(inst, "ann@example.com");
      await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "new@example.com", password: PASSWORD } });
      await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "ann@example.com", redirect_url: "https://myapp.com/r" } });
      const change = await lastLinkToken(inst, "new@example.com", "Confirm your new email");
      const reset = await lastLinkToken(inst, "ann@example.com", "Reset your");
      const doConfirm = () => inst.req("GET", `/p/demo/auth/verify?token=${change}`, { headers: { accept: "application/json" } });
      const doReset = () => inst.req("POST", "/p/demo/auth/reset-password", { body: { token: reset, new_password: "a brand new password" } });
      const [c, r] = round % 2 === 0 ? await Promise.all([doConfirm(), doReset()]) : (await Promise.all([doReset(), doConfirm()])).reverse();
      expect(c.status).toBe(200); // the change never depends on the password
      const row = dbOf(inst).query("SELECT email, email_verified FROM users").get() as { email: string; email_verified: number };
      expect(row).toEqual({ email: "new@example.com", email_verified: 1 });
      if (r.status === 200) {
        // The reset landed before the change: the new password works with the new address.
        await logIn(inst, "new@example.com", { password: "a brand new password" });
        expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "new@example.com", password: PASSWORD } }), 401, "AUTH_INVALID_CREDENTIALS");
      } else {
        // The change landed first: the reset link (bound to the old address) is dead, the old password stands.
        expectError(r, 400, "AUTH_INVALID_LINK_TOKEN");
        await logIn(inst, "new@example.com");
      }
      await inst.close();
    }
    inst = await accountsInstance();
  }, 20_000); // four instances, each booted and closed: more than the default 5 s on PostgreSQL
});

describe("DELETE /auth/me", () => {
  it("needs the password, deletes the user with cascade rows, queues a notice and frees the email", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const a = await signUp(inst, "ann@example.com");
    const now = new Date(inst.clock.now).toISOString();
    dbOf(inst).query("INSERT INTO posts(id, created_at, updated_at, author, body) VALUES (?, ?, ?, ?, 'hi')").run(crypto.randomUUID(), now, now, a.user.id);
    expectError(await inst.req("DELETE", "/p/demo/auth/me", { token: a.token, body: {} }), 400, "VALIDATION_REQUIRED_FIELD", "password");
    expectError(await inst.req("DELETE", "/p/demo/auth/me", { token: a.token, body: { password: 5 } }), 400, "VALIDATION_INVALID_FIELD", "password");
    expectError(await inst.req("DELETE", "/p/demo/auth/me", { token: a.token, body: { password: PASSWORD, really: true } }), 400, "VALIDATION_UNKNOWN_FIELD", "really");
    expectError(await inst.req("DELETE", "/p/demo/auth/me", { token: a.token, body: { password: "wrong password!" } }), 401, "AUTH_INVALID_CREDENTIALS");
    expectError(await inst.req("DELETE", "/p/demo/auth/me", { body: { password: PASSWORD } }), 401, "AUTH_REQUIRED");
    expect(mailCount(inst, "account_deleted")).toBe(0);

    const r = await inst.req("DELETE", "/p/demo/auth/me", { token: a.token, body: { password: PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { ok: true } });
    expect(mailCount(inst, "account_deleted")).toBe(1);
    for (const t of ["users", "posts", "_sessions", "_link_tokens"]) {
      expect((dbOf(inst).query(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n).toBe(0);
    }
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: a.token }), 401, "AUTH_INVALID_TOKEN");
    expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: a.refresh_token } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
    await signUp(inst, "ann@example.com");
  });

  it("a restrict reference blocks it with 409 CONFLICT naming the table, and nothing is deleted", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const a = await signUp(inst, "ann@example.com");
    const now = new Date(inst.clock.now).toISOString();
    dbOf(inst).query("INSERT INTO invoices(id, created_at, updated_at, owner, amount) VALUES (?, ?, ?, ?, 1)").run(crypto.randomUUID(), now, now, a.user.id);
    const r = await inst.req("DELETE", "/p/demo/auth/me", { token: a.token, body: { password: PASSWORD } });
    expectError(r, 409, "CONFLICT");
    expect(r.body.error.message).toContain("invoices");
    expect((await inst.req("GET", "/p/demo/auth/me", { token: a.token })).status).toBe(200);
    expect(mailCount(inst, "account_deleted")).toBe(0);
    expect((await admin(inst, "GET", `/users/${a.user.id}`)).status).toBe(200);
  });
});

describe("guards shared with Part I", () => {
  it("require_public_key guards the new end-user endpoints; a project without an auth table has none of them", async () => {
    const { createTestInstance } = await import("../helpers/instance.ts");
    const { accountsSpec, PUBLIC_KEY } = await import("./helpers.ts");
    inst = await createTestInstance([accountsSpec({ auth: { require_public_key: true } }), { id: "plain", keys: { admin: "sk_" + "C".repeat(43) }, tables: { notes: { columns: { body: "text" } } } }]);
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "ann@example.com", password: PASSWORD }, headers: { "x-public-key": PUBLIC_KEY } });
    const token = r.body.data.token;
    for (const [method, path, body] of [["GET", "/auth/sessions", undefined], ["DELETE", `/auth/sessions/${UNKNOWN_ID}`, undefined], ["POST", "/auth/change-email", { new_email: "x@example.com", password: PASSWORD }], ["DELETE", "/auth/me", { password: PASSWORD }]] as const) {
      expectError(await inst.req(method, `/p/demo${path}`, { token, body }), 401, "PUBLIC_KEY_REQUIRED");
      expectError(await inst.req(method, `/p/plain${path}`, { token, body }), 404, "AUTH_NOT_ENABLED");
    }
    expectError(await inst.req("GET", "/p/plain/v1/users", { headers: { "x-admin-key": "sk_" + "C".repeat(43) } }), 404, "AUTH_NOT_ENABLED");
    expectError(await inst.req("GET", "/p/nope/v1/users", { headers: { "x-admin-key": "sk_" + "C".repeat(43) } }), 404, "PROJECT_NOT_FOUND");
    // The account still exists: nothing above got through.
    expect((await inst.req("GET", "/p/demo/auth/me", { token, headers: { "x-public-key": PUBLIC_KEY } })).status).toBe(200);
  });

  it("a change link whose address was taken in between answers the HTML page with 409", async () => {
    inst = await accountsInstance();
    const a = await signUp(inst, "ann@example.com");
    await inst.req("POST", "/p/demo/auth/change-email", { token: a.token, body: { new_email: "taken@example.com", password: PASSWORD } });
    const link = await lastLinkToken(inst, "taken@example.com", "Confirm your new email");
    await signUp(inst, "Taken@example.com");
    const r = await inst.req("GET", `/p/demo/auth/verify?token=${link}`);
    expect(r.status).toBe(409);
    expect(r.headers.get("content-type")).toContain("text/html");
    expect((dbOf(inst).query("SELECT email FROM users WHERE id = ?").get(a.user.id) as { email: string }).email).toBe("ann@example.com");
  });
});
