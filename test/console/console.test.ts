/**
 * The admin console over HTTP, in process (the browser flows are in console.browser.test.ts):
 * sign-in and its rate limit, the session cookie and its end (sign-out, expiry, any admin key
 * rotation), CSRF and Origin checks, security headers, and the actions going through the API's
 * services and validation.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { sqliteDatabaseOf } from "../../src/storage/sqlite/store.ts";
import { ADMIN_KEY, OTHER_ADMIN_KEY, PUBLIC_KEY, accountsSpec, admin } from "../accounts/helpers.ts";

const PASSWORD = "correct horse battery staple";
const ORIGIN = "http://localhost";
let inst: TestInstance | null = null;

afterEach(async () => {
  await inst?.close();
  inst = null;
});

interface Res {
  status: number;
  headers: Headers;
  text: string;
}

async function send(path: string, opts: { method?: string; cookie?: string; form?: Record<string, string>; headers?: Record<string, string>; ip?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.ip) headers["x-test-peer-ip"] = opts.ip;
  let body: string | undefined;
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
    if (!("origin" in headers)) headers.origin = ORIGIN;
  }
  const res = await inst!.booted.app.handle(new Request(`http://localhost${path}`, { method: opts.method ?? (opts.form ? "POST" : "GET"), headers, body }));
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function signIn(key = ADMIN_KEY, ip?: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await send("/p/demo/admin/sign-in", { form: { key }, ip });
  expect(r.status).toBe(303);
  const setCookie = r.headers.get("set-cookie")!;
  const cookie = setCookie.split(";")[0];
  const page = await send("/p/demo/admin/users", { cookie });
  expect(page.status).toBe(200);
  return { cookie, csrf: csrfOf(page.text), setCookie };
}

function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no csrf field in page");
  return m[1];
}

async function signup(email: string): Promise<{ id: string; access: string; refresh: string }> {
  const r = await inst!.req("POST", "/p/demo/auth/signup", { body: { email, password: PASSWORD }, headers: { "x-public-key": PUBLIC_KEY } });
  expect(r.status).toBe(201);
  return { id: r.body.data.user.id, access: r.body.data.token, refresh: r.body.data.refresh_token };
}

async function start(opts: { auth?: Record<string, unknown>; boot?: Record<string, unknown> } = {}): Promise<void> {
  inst = await createTestInstance([accountsSpec({ auth: opts.auth })], { boot: opts.boot });
}

describe("console sign-in", () => {
  it("refuses a wrong key with a page, and counts it toward admin_key_failures_per_ip", async () => {
    await start({ auth: { rate_limits: { admin_key_failures_per_ip: { max: 3, window: "15m" } } } });
    for (let i = 0; i < 3; i++) {
      const r = await send("/p/demo/admin/sign-in", { form: { key: "sk_" + "x".repeat(43) }, ip: "10.0.0.9" });
      expect(r.status).toBe(401);
      expect(r.headers.get("content-type")).toContain("text/html");
      expect(r.text).toContain("That admin key is not valid");
      expect(r.headers.get("set-cookie")).toBeNull();
    }
    // Past the limit a wrong key from that address is answered 429, in the console and in the API alike.
    const wrong = await send("/p/demo/admin/sign-in", { form: { key: "sk_" + "y".repeat(43) }, ip: "10.0.0.9" });
    expect(wrong.status).toBe(429);
    expect(wrong.text).toContain("Too many wrong admin keys");
    expect(Number(wrong.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const apiWrong = await inst!.req("GET", "/p/demo/v1/users", { headers: { "x-admin-key": "sk_" + "y".repeat(43) }, ip: "10.0.0.9" });
    expect(apiWrong.status).toBe(429);
    // The right key is always accepted (behind a proxy everyone shares one address).
    const api = await inst!.req("GET", "/p/demo/v1/users", { headers: { "x-admin-key": ADMIN_KEY }, ip: "10.0.0.9" });
    expect(api.status).toBe(200);
    await signIn(ADMIN_KEY, "10.0.0.9");
    // Another address still signs in.
    await signIn(ADMIN_KEY, "10.0.0.10");
  });

  it("sets an HttpOnly, SameSite=Strict, 8 h cookie scoped to the console; Secure with an https public URL", async () => {
    await start();
    const { setCookie, cookie } = await signIn();
    expect(setCookie).toMatch(/^lk_console=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/p/demo/admin");
    expect(setCookie).toContain("Max-Age=28800");
    expect(setCookie).not.toContain("Secure");
    expect(setCookie).not.toContain(ADMIN_KEY);
    // Only the token's hash is stored.
    const token = cookie.split("=")[1];
    const p = inst!.booted.projects.get("demo")!;
    const rows = dbOf(inst!).query("SELECT token_hash FROM _console_sessions").all() as { token_hash: string }[];
    expect(rows).toEqual([{ token_hash: createHash("sha256").update(token).digest("hex") }]);
    if (inst!.engine === "sqlite") {
      // The file itself (PostgreSQL has no project file: the row check above is what stays).
      sqliteDatabaseOf(p.store).exec("PRAGMA wal_checkpoint(TRUNCATE)");
      const bytes = readFileSync(join(inst!.dataDir, "demo.db")).toString("latin1");
      expect(bytes.includes(token)).toBe(false);
      expect(bytes.includes(ADMIN_KEY)).toBe(false);
    }
    await inst!.close();
    inst = await createTestInstance([accountsSpec()], { boot: { publicUrl: "https://auth.example.com" } });
    const secure = await signIn();
    expect(secure.setCookie).toContain("; Secure");
  });

  it("ends the session at sign-out and after 8 hours", async () => {
    await start();
    const a = await signIn();
    const out = await send("/p/demo/admin/sign-out", { form: { csrf: a.csrf }, cookie: a.cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    const after = await send("/p/demo/admin/users", { cookie: a.cookie });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/p/demo/admin/sign-in?notice=ended");

    const b = await signIn();
    inst!.clock.advance(8 * 3600 * 1000 - 1000);
    expect((await send("/p/demo/admin/users", { cookie: b.cookie })).status).toBe(200);
    inst!.clock.advance(2000);
    expect((await send("/p/demo/admin/users", { cookie: b.cookie })).status).toBe(303);
  });

  it("ends every console session when the admin key is rotated through the API, not when only the public key is", async () => {
    await start();
    const a = await signIn();
    expect((await admin(inst!, "POST", "/rotate-keys", { public: true })).status).toBe(200);
    expect((await send("/p/demo/admin/users", { cookie: a.cookie })).status).toBe(200);
    expect((await admin(inst!, "POST", "/rotate-keys", { admin: true })).status).toBe(200);
    expect((await send("/p/demo/admin/users", { cookie: a.cookie })).status).toBe(303);
    const post = await send("/p/demo/admin/sign-out", { form: { csrf: a.csrf }, cookie: a.cookie });
    expect(post.status).toBe(401);
  });

  it("ends console sessions when the project file declares a new admin key (restart), keeps them otherwise", async () => {
    await start();
    const a = await signIn();
    await inst!.restart([accountsSpec()]);
    expect((await send("/p/demo/admin/users", { cookie: a.cookie })).status).toBe(200);
    await inst!.restart([accountsSpec({ adminKey: OTHER_ADMIN_KEY })]);
    expect((await send("/p/demo/admin/users", { cookie: a.cookie })).status).toBe(303);
  });

  it("rotates keys from the console behind a confirmation, shows the new key once and ends the session", async () => {
    await start();
    const a = await signIn();
    const unconfirmed = await send("/p/demo/admin/keys/rotate", { form: { csrf: a.csrf, which: "admin" }, cookie: a.cookie });
    expect(unconfirmed.status).toBe(400);
    expect((await admin(inst!, "GET", "/users")).status).toBe(200); // nothing rotated
    const r = await send("/p/demo/admin/keys/rotate", { form: { csrf: a.csrf, which: "admin", confirm: "yes" }, cookie: a.cookie });
    expect(r.status).toBe(200);
    const newKey = /id="new-admin-key" readonly value="(sk_[A-Za-z0-9_-]{43})"/.exec(r.text)?.[1];
    expect(newKey).toBeDefined();
    expect(r.headers.get("set-cookie")).toContain("Max-Age=0");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect((await send("/p/demo/admin/users", { cookie: a.cookie })).status).toBe(303);
    expect((await admin(inst!, "GET", "/users")).status).toBe(401);
    expect((await inst!.req("GET", "/p/demo/v1/users", { headers: { "x-admin-key": newKey! } })).status).toBe(200);
    expect(inst!.logs.some((l) => l.includes(newKey!))).toBe(false);
  });
});

describe("console request checks", () => {
  it("refuses a state change without the CSRF token, with a wrong one, or from another origin", async () => {
    await start();
    const bob = await signup("bob@example.org");
    const a = await signIn();
    const path = `/p/demo/admin/users/${bob.id}/ban`;
    const cases: { form: Record<string, string>; headers?: Record<string, string> }[] = [
      { form: { reason: "x" } },
      { form: { reason: "x", csrf: "A".repeat(43) } },
      { form: { reason: "x", csrf: a.csrf }, headers: { origin: "https://evil.example" } },
      { form: { reason: "x", csrf: a.csrf }, headers: { origin: "null" } },
      { form: { reason: "x", csrf: a.csrf }, headers: { "sec-fetch-site": "cross-site" } },
      { form: { reason: "x", csrf: a.csrf }, headers: { "sec-fetch-site": "same-site" } },
      { form: { reason: "x", csrf: a.csrf }, headers: { origin: "null", "sec-fetch-site": "cross-site" } },
    ];
    for (const c of cases) {
      const r = await send(path, { form: c.form, headers: c.headers, cookie: a.cookie });
      expect(r.status).toBe(403);
      expect(r.text).toContain("Refused");
    }
    // Without an Origin header at all (not a browser form post).
    const noOrigin = await inst!.booted.app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { cookie: a.cookie, "content-type": "application/x-www-form-urlencoded" }, body: `csrf=${a.csrf}` }));
    expect(noOrigin.status).toBe(403);
    expect((await admin(inst!, "GET", `/users/${bob.id}`)).body.data.user.banned).toBe(false);
    expect((await inst!.req("GET", "/p/demo/auth/me", { token: bob.access, headers: { "x-public-key": PUBLIC_KEY } })).status).toBe(200);

    // What a browser sends under Referrer-Policy: no-referrer: `Origin: null` with Sec-Fetch-Site.
    const ok = await send(path, { form: { reason: "spam", csrf: a.csrf }, headers: { origin: "null", "sec-fetch-site": "same-origin" }, cookie: a.cookie });
    expect(ok.status).toBe(303);
    expect((await admin(inst!, "GET", `/users/${bob.id}`)).body.data.user).toMatchObject({ banned: true, ban_reason: "spam" });
    const me = await inst!.req("GET", "/p/demo/auth/me", { token: bob.access, headers: { "x-public-key": PUBLIC_KEY } });
    expect(me.status).toBe(401);
  });

  it("a CSRF token of another session is refused", async () => {
    await start();
    const a = await signIn();
    const b = await signIn();
    expect(a.csrf).not.toBe(b.csrf);
    const r = await send("/p/demo/admin/sign-out", { form: { csrf: b.csrf }, cookie: a.cookie });
    expect(r.status).toBe(403);
  });

  it("sets the strict security headers on pages, assets, redirects and errors", async () => {
    await start();
    const a = await signIn();
    const responses = [
      await send("/p/demo/admin/sign-in"),
      await send("/p/demo/admin/users", { cookie: a.cookie }),
      await send("/p/demo/admin/users"),
      await send("/p/demo/admin/assets/console.js"),
      await send("/p/demo/admin/users/not-a-uuid", { cookie: a.cookie }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 303, 200, 400]);
    for (const r of responses) {
      const csp = r.headers.get("content-security-policy")!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toMatch(/https?:/);
      expect(r.headers.get("x-frame-options")).toBe("DENY");
      expect(r.headers.get("referrer-policy")).toBe("no-referrer");
      expect(r.headers.get("cache-control")).toBe("no-store");
    }
    // No inline script or style, nothing from another origin.
    const html = responses[1].text;
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(responses[4].text).toContain("The user id must be a UUID.");
  });
});

describe("console actions use the API's rules", () => {
  it("edits readonly and hidden columns with the API's validation", async () => {
    await start();
    const alice = await signup("alice@example.org");
    const a = await signIn();
    const base = `/p/demo/admin/users/${alice.id}`;
    const page = await send(base, { cookie: a.cookie });
    for (const col of ["display_name", "role", "note", "age"]) expect(page.text).toContain(`for="col-${col}"`);
    const bad = await send(`${base}/edit`, { form: { csrf: a.csrf, email: "alice@example.org", "col.age": "abc" }, cookie: a.cookie });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("field: age");
    const badEnum = await send(`${base}/edit`, { form: { csrf: a.csrf, "col.role": "owner" }, cookie: a.cookie });
    expect(badEnum.status).toBe(400);
    const ok = await send(`${base}/edit`, { form: { csrf: a.csrf, email: "alice@example.org", "col.role": "admin", "col.note": "vip", "col.age": "41", "col.display_name": "" }, cookie: a.cookie });
    expect(ok.status).toBe(303);
    const user = (await admin(inst!, "GET", `/users/${alice.id}`)).body.data.user;
    expect(user).toMatchObject({ role: "admin", note: "vip", age: 41 });
    const audit = (await admin(inst!, "GET", `/audit?type=admin.user_updated`)).body.data.events;
    expect(audit[0].details.fields.sort()).toEqual(["age", "display_name", "note", "role"]);
  });

  it("deletes a user only after the email is typed", async () => {
    await start();
    const carol = await signup("carol@example.org");
    const a = await signIn();
    const wrong = await send(`/p/demo/admin/users/${carol.id}/delete`, { form: { csrf: a.csrf, confirm: "carol" }, cookie: a.cookie });
    expect(wrong.status).toBe(400);
    expect((await admin(inst!, "GET", `/users/${carol.id}`)).status).toBe(200);
    const ok = await send(`/p/demo/admin/users/${carol.id}/delete`, { form: { csrf: a.csrf, confirm: "Carol@example.org" }, cookie: a.cookie });
    expect(ok.status).toBe(303);
    expect((await admin(inst!, "GET", `/users/${carol.id}`)).status).toBe(404);
  });

  it("shows declared vs changed redirect origins and saves through the API's validation", async () => {
    await start();
    const a = await signIn();
    const bad = await send("/p/demo/admin/origins", { form: { csrf: a.csrf, origins: "https://ok.example\nhttps://x.example/path" }, cookie: a.cookie });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("allowed_redirect_origins[1]");
    const ok = await send("/p/demo/admin/origins", { form: { csrf: a.csrf, origins: "https://app2.example\n" }, cookie: a.cookie });
    expect(ok.status).toBe(303);
    expect((await admin(inst!, "GET", "/redirect-origins")).body.data.allowed_redirect_origins).toEqual(["https://app2.example"]);
    const page = await send("/p/demo/admin/origins", { cookie: a.cookie });
    expect(page.text).toMatch(/https:\/\/myapp\.com<\/code><\/td><td>yes<\/td><td>no<\/td><td><span class="badge bad">removed by the API/);
    expect(page.text).toMatch(/https:\/\/app2\.example<\/code><\/td><td>no<\/td><td>yes<\/td><td><span class="badge">added by the API/);
  });

  it("rotates the JWT secret only when confirmed; old access tokens are then refused", async () => {
    await start();
    const dan = await signup("dan@example.org");
    const a = await signIn();
    expect((await send("/p/demo/admin/jwt/rotate", { form: { csrf: a.csrf }, cookie: a.cookie })).status).toBe(400);
    expect((await inst!.req("GET", "/p/demo/auth/me", { token: dan.access, headers: { "x-public-key": PUBLIC_KEY } })).status).toBe(200);
    expect((await send("/p/demo/admin/jwt/rotate", { form: { csrf: a.csrf, confirm: "yes" }, cookie: a.cookie })).status).toBe(303);
    expect((await inst!.req("GET", "/p/demo/auth/me", { token: dan.access, headers: { "x-public-key": PUBLIC_KEY } })).status).toBe(401);
  });

  it("filters the audit log by type and user", async () => {
    await start();
    const erin = await signup("erin@example.org");
    await signup("frank@example.org");
    const a = await signIn();
    const page = await send(`/p/demo/admin/audit?type=user.signup&user_id=${erin.id}`, { cookie: a.cookie });
    expect(page.status).toBe(200);
    expect((page.text.match(/<code>user\.signup<\/code>/g) ?? []).length).toBe(1);
    const bad = await send("/p/demo/admin/audit?since=yesterday", { cookie: a.cookie });
    expect(bad.status).toBe(400);
  });

  it("lists the outbox without recipients and retries a failed message as a new one", async () => {
    await start();
    const gina = await signup("gina@example.org");
    expect((await admin(inst!, "POST", `/users/${gina.id}/send-password-reset`, { redirect_url: "https://myapp.com/reset" })).status).toBe(200);
    inst!.mail.failing = true;
    await inst!.outbox.deliver("demo", { maxAttempts: 1 });
    const failed = inst!.outbox.rows("demo").find((r) => r.status === "failed")!;
    expect(failed.template).toBe("reset_password");
    expect(failed.payload).toBeNull();
    const a = await signIn();
    const page = await send("/p/demo/admin/outbox", { cookie: a.cookie });
    expect(page.text).toContain("<strong>1</strong> failed");
    expect(page.text).toContain("capture provider is failing on purpose");
    expect(page.text).not.toContain("gina@example.org");
    inst!.mail.failing = false;
    // A reset link needs an allowed redirect URL, checked like the API's.
    const badUrl = await send(`/p/demo/admin/outbox/${failed.id}/retry`, { form: { csrf: a.csrf, redirect_url: "https://evil.example/x" }, cookie: a.cookie });
    expect(badUrl.status).toBe(400);
    const retry = await send(`/p/demo/admin/outbox/${failed.id}/retry`, { form: { csrf: a.csrf, redirect_url: "https://myapp.com/reset" }, cookie: a.cookie });
    expect(retry.status).toBe(303);
    const rows = inst!.outbox.rows("demo");
    expect(rows.map((r) => [r.template, r.status])).toEqual([["reset_password", "pending"]]);
    await inst!.outbox.deliver("demo");
    expect(inst!.mail.messages.at(-1)!.to).toBe("gina@example.org");
    expect(inst!.mail.messages.at(-1)!.text).toMatch(/https:\/\/myapp\.com\/reset\?token=[A-Za-z0-9_-]{43}/);
    expect((await admin(inst!, "GET", "/audit?type=admin.mail_retried")).body.data.events).toHaveLength(1);
    const again = await send(`/p/demo/admin/outbox/${failed.id}/retry`, { form: { csrf: a.csrf }, cookie: a.cookie });
    expect(again.status).toBe(404);
  });

  it("sends a password reset, marks verified, clears a lockout, unbans and revokes all sessions", async () => {
    await start({ auth: { rate_limits: { login_failures_per_account: { max: 2, window: "15m" } } } });
    const hal = await signup("hal@example.org");
    const a = await signIn();
    const base = `/p/demo/admin/users/${hal.id}`;
    // Reset: the redirect URL is checked against the allowed origins like the API's.
    expect((await send(`${base}/send-password-reset`, { form: { csrf: a.csrf, redirect_url: "https://evil.example/r" }, cookie: a.cookie })).status).toBe(400);
    expect((await send(`${base}/send-password-reset`, { form: { csrf: a.csrf, redirect_url: "https://myapp.com/reset" }, cookie: a.cookie })).status).toBe(303);
    await inst!.outbox.deliver("demo");
    expect(inst!.mail.messages.at(-1)!.text).toMatch(/https:\/\/myapp\.com\/reset\?token=/);
    // Mark verified.
    expect((await send(base, { cookie: a.cookie })).text).toContain("Mark email verified");
    expect((await send(`${base}/verify`, { form: { csrf: a.csrf }, cookie: a.cookie })).status).toBe(303);
    expect((await admin(inst!, "GET", `/users/${hal.id}`)).body.data.user.email_verified).toBe(true);
    expect((await send(base, { cookie: a.cookie })).text).not.toContain("Mark email verified");
    // Lockout cleared.
    for (let i = 0; i < 3; i++) await inst!.req("POST", "/p/demo/auth/login", { body: { email: "hal@example.org", password: "wrong password!" } });
    expect((await inst!.req("POST", "/p/demo/auth/login", { body: { email: "hal@example.org", password: PASSWORD } })).status).toBe(429);
    expect((await send(`${base}/clear-lockout`, { form: { csrf: a.csrf }, cookie: a.cookie })).status).toBe(303);
    const login = await inst!.req("POST", "/p/demo/auth/login", { body: { email: "hal@example.org", password: PASSWORD } });
    expect(login.status).toBe(200);
    // Revoke all sessions: signup's and login's.
    expect((await send(base, { cookie: a.cookie })).text).toContain("Live sessions (2)");
    expect((await send(`${base}/revoke-sessions`, { form: { csrf: a.csrf }, cookie: a.cookie })).status).toBe(303);
    expect((await inst!.req("GET", "/p/demo/auth/me", { token: login.body.data.token })).status).toBe(401);
    expect((await send(base, { cookie: a.cookie })).text).toContain("Live sessions (0)");
    // Ban with an end date (UTC from datetime-local), then unban.
    const ban = await send(`${base}/ban`, { form: { csrf: a.csrf, until: "2026-02-01T10:30", reason: "cool-off" }, cookie: a.cookie });
    expect(ban.status).toBe(303);
    expect((await admin(inst!, "GET", `/users/${hal.id}`)).body.data.user).toMatchObject({ banned: true, banned_until: "2026-02-01T10:30:00.000Z", ban_reason: "cool-off" });
    const past = await send(`${base}/ban`, { form: { csrf: a.csrf, until: "2020-01-01T00:00" }, cookie: a.cookie });
    expect(past.status).toBe(400);
    expect((await send(`${base}/unban`, { form: { csrf: a.csrf }, cookie: a.cookie })).status).toBe(303);
    expect((await admin(inst!, "GET", `/users/${hal.id}`)).body.data.user.banned).toBe(false);
    const types = (await admin(inst!, "GET", `/audit?user_id=${hal.id}`)).body.data.events.map((e: { type: string }) => e.type);
    for (const t of ["admin.password_reset_sent", "admin.user_updated", "admin.lockout_cleared", "admin.sessions_revoked", "admin.user_banned", "admin.user_unbanned"]) expect(types).toContain(t);
  });

  it("lists users with filters and visits every user once through the next-page links", async () => {
    await start({ auth: { rate_limits: { signup_per_ip: "off" } } });
    const made: string[] = [];
    for (let i = 0; i < 120; i++) made.push((await signup(`u${String(i).padStart(3, "0")}@example.org`)).id);
    dbOf(inst!).query("UPDATE users SET email_verified = 1 WHERE email LIKE 'u00%'").run();
    const a = await signIn();
    expect((await send(`/p/demo/admin/users/${made[5]}/ban`, { form: { csrf: a.csrf }, cookie: a.cookie })).status).toBe(303);
    const seen: string[] = [];
    let next: string | null = "/p/demo/admin/users";
    let pages = 0;
    while (next) {
      const page = await send(next, { cookie: a.cookie });
      expect(page.status).toBe(200);
      for (const m of page.text.matchAll(/href="\/p\/demo\/admin\/users\/([0-9a-f-]{36})"/g)) seen.push(m[1]);
      const link = /href="(\/p\/demo\/admin\/users\?[^"]*cursor=[^"]+)" rel="next"/.exec(page.text);
      next = link ? link[1].replaceAll("&amp;", "&") : null;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...made].sort());
    const count = async (query: string): Promise<number> => ((await send(`/p/demo/admin/users?${query}`, { cookie: a.cookie })).text.match(/<tr><td><a href=/g) ?? []).length;
    expect(await count("verified=true")).toBe(10);
    expect(await count("banned=true")).toBe(1);
    expect(await count("verified=false&banned=false")).toBe(50);
    expect(await count("q=u11")).toBe(10);
    expect(await count(`q=${made[42]}`)).toBe(1);
    expect((await send("/p/demo/admin/users?cursor=forged", { cookie: a.cookie })).status).toBe(400);
  });

  it("shows the schema from the file and its history, read-only", async () => {
    await start();
    const a = await signIn();
    const page = await send("/p/demo/admin/schema", { cookie: a.cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain("<code>role</code>");
    expect(page.text).toContain("enum (user, admin)");
    expect(page.text).toContain("<h3>posts</h3>");
    expect(page.text).toContain("ref → users");
    const history = dbOf(inst!).query("SELECT count(*) AS n FROM _schema_history").get() as { n: number };
    expect(history.n).toBeGreaterThan(0);
    expect((page.text.match(/<tr><td><time/g) ?? []).length).toBe(Math.min(history.n, 200));
    expect(page.text).not.toContain("<form method=\"post\" action=\"/p/demo/admin/schema");
  });
});

