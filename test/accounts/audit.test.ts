import { afterEach, describe, expect, it } from "bun:test";
import type { TestInstance } from "../helpers/instance.ts";
import { PASSWORD, expectError, logIn, dbOf, runtimeOf, signUp } from "../helpers/auth.ts";
import { runHousekeeping } from "../../src/projects/housekeeping.ts";
import { ADMIN_KEY, OTHER_ADMIN_KEY, accountsInstance, accountsSpec, admin, lastLinkToken } from "./helpers.ts";
import { createTestInstance } from "../helpers/instance.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

type Event = { id: number; type: string; at: string; user_id: string | null; ip: string | null; user_agent: string | null; request_id: string | null; details: Record<string, unknown> };

async function events(qs = ""): Promise<Event[]> {
  const r = await admin(inst, "GET", `/audit?limit=200${qs}`);
  expect(r.status).toBe(200);
  return r.body.data.events;
}

describe("audit log", () => {
  it("records every security event of 9.6 and every admin action as a row with who, where and which request", async () => {
    inst = await accountsInstance([], { auth: { rate_limits: { login_failures_per_account: { max: 2, window: "15m" } }, refresh_reuse_grace: "1s" } });
    const ann = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "ann@example.com", password: PASSWORD }, headers: { "user-agent": "Browser/1", "x-request-id": "req-signup-1" }, ip: "198.51.100.7" });
    const annId: string = ann.body.data.user.id;
    const s = await logIn(inst, "ann@example.com");
    for (let i = 0; i < 3; i++) await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: "wrong password!" } });
    inst.clock.advance(15 * 60_000);
    const r1 = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } });
    inst.clock.advance(5000);
    await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } }); // reuse
    expect(r1.status).toBe(200);
    await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "ann@example.com", redirect_url: "https://myapp.com/r" } });
    const reset = await lastLinkToken(inst, "ann@example.com", "Reset your");
    await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: reset, new_password: "a brand new password" } });
    const s2 = await logIn(inst, "ann@example.com", { password: "a brand new password" });
    await inst.req("POST", "/p/demo/auth/change-password", { token: s2.token, body: { current_password: "a brand new password", new_password: PASSWORD } });
    const s3 = await logIn(inst, "ann@example.com");
    await inst.req("POST", "/p/demo/auth/change-email", { token: s3.token, body: { new_email: "ann2@example.com", password: PASSWORD } });
    await inst.req("GET", `/p/demo/auth/verify?token=${await lastLinkToken(inst, "ann2@example.com", "Confirm your new email")}`, { headers: { accept: "application/json" } });
    const s4 = await logIn(inst, "ann2@example.com");
    await inst.req("POST", "/p/demo/auth/logout", { token: s4.token });
    const created = await admin(inst, "POST", "/users", { email: "bob@example.com" });
    const bobId: string = created.body.data.user.id;
    await admin(inst, "PATCH", `/users/${bobId}`, { role: "admin" });
    await admin(inst, "POST", `/users/${bobId}/ban`, { reason: "x" });
    await admin(inst, "POST", `/users/${bobId}/unban`);
    await admin(inst, "POST", `/users/${bobId}/revoke-sessions`);
    await admin(inst, "POST", `/users/${bobId}/send-password-reset`, { redirect_url: "https://myapp.com/r" });
    await admin(inst, "POST", `/users/${bobId}/clear-lockout`);
    await admin(inst, "PUT", "/redirect-origins", { allowed_redirect_origins: ["https://myapp.com"] });
    await admin(inst, "POST", "/rotate-jwt-secret");
    await inst.req("POST", "/p/demo/v1/rotate-keys", { body: { public: true }, headers: { "x-admin-key": ADMIN_KEY } });
    await admin(inst, "DELETE", `/users/${bobId}`);
    const s5 = await logIn(inst, "ann2@example.com");
    await inst.req("DELETE", "/p/demo/auth/me", { token: s5.token, body: { password: PASSWORD } });

    const all = await events();
    const types = new Set(all.map((e) => e.type));
    for (const t of [
      "user.signup", "user.login", "user.login_failed", "user.locked_out", "user.logout", "user.password_changed",
      "user.password_reset_requested", "user.password_reset", "user.email_change_requested", "user.email_changed",
      "user.deleted", "session.refresh_reuse", "admin.user_created", "admin.user_updated", "admin.user_deleted",
      "admin.user_banned", "admin.user_unbanned", "admin.sessions_revoked", "admin.password_reset_sent",
      "admin.keys_rotated", "admin.jwt_secret_rotated", "admin.redirect_origins_changed", "admin.lockout_cleared",
    ]) expect({ type: t, present: types.has(t) }).toEqual({ type: t, present: true });
    const signup = all.find((e) => e.type === "user.signup")!;
    expect(signup).toMatchObject({ user_id: annId, ip: "198.51.100.7", user_agent: "Browser/1", request_id: "req-signup-1" });
    expect(signup.at).toBe(new Date(Date.UTC(2026, 0, 15, 12, 0, 0)).toISOString());
    expect(all.find((e) => e.type === "admin.user_updated")!.details).toEqual({ fields: ["role"] });
    // Admin actions carry who made them, like the user's events.
    for (const t of ["admin.keys_rotated", "admin.jwt_secret_rotated", "admin.redirect_origins_changed", "admin.user_banned"]) {
      const e = all.find((x) => x.type === t)!;
      expect({ t, ip: e.ip, request_id: typeof e.request_id }).toEqual({ t, ip: "127.0.0.1", request_id: "string" });
    }
    // Newest first.
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
    expect(all[0].type).toBe("user.deleted");
  });

  it("filters by user_id, type and since, and pages newest first with a cursor", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    inst.clock.advance(60_000);
    const since = new Date(inst.clock.now).toISOString();
    for (let i = 0; i < 5; i++) {
      inst.clock.advance(1000);
      await logIn(inst, "ann@example.com");
    }
    await signUp(inst, "bob@example.com");
    const mine = await events(`&user_id=${ann.user.id}`);
    expect(mine.every((e) => e.user_id === ann.user.id)).toBe(true);
    expect(mine).toHaveLength(6);
    expect((await events("&type=user.login")).length).toBe(5);
    expect((await events(`&since=${encodeURIComponent(since)}`)).map((e) => e.type)).toEqual(["user.signup", ...Array(5).fill("user.login")]);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const r = await admin(inst, "GET", `/audit?limit=2&user_id=${ann.user.id}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.data.events.map((e: Event) => e.id));
      cursor = r.body.data.next_cursor;
    } while (cursor);
    expect(seen).toEqual(mine.map((e) => e.id));
  });

  it("answers bad audit queries with 400 and the SPEC code", async () => {
    inst = await createTestInstance([accountsSpec(), accountsSpec({ id: "other", adminKey: OTHER_ADMIN_KEY })]);
    for (let i = 0; i < 3; i++) await signUp(inst, `u${i}@example.com`);
    await signUp(inst, "x@example.com", { project: "other" });
    await signUp(inst, "y@example.com", { project: "other" });
    const foreign = (await admin(inst, "GET", "/audit?limit=1", undefined, "other")).body.data.next_cursor as string;
    const usersCursor = (await admin(inst, "GET", "/users?limit=1")).body.data.next_cursor as string;
    const mine = (await admin(inst, "GET", "/audit?limit=1")).body.data.next_cursor as string;
    const forged = Buffer.from("[999999]").toString("base64url") + "." + mine.split(".")[1];
    const cases: [string, string, string][] = [
      ["user_id=nope", "VALIDATION_INVALID_FIELD", "user_id"],
      ["type=" + "x".repeat(100), "VALIDATION_INVALID_FIELD", "type"],
      ["type=DROP%20TABLE", "VALIDATION_INVALID_FIELD", "type"],
      ["since=yesterday", "VALIDATION_INVALID_FIELD", "since"],
      ["since=2026-01-01", "VALIDATION_INVALID_FIELD", "since"],
      ["limit=0", "VALIDATION_INVALID_FIELD", "limit"],
      ["limit=9999", "VALIDATION_INVALID_FIELD", "limit"],
      [`cursor=${encodeURIComponent(foreign)}`, "VALIDATION_INVALID_FIELD", "cursor"],
      [`cursor=${encodeURIComponent(usersCursor)}`, "VALIDATION_INVALID_FIELD", "cursor"],
      [`cursor=${encodeURIComponent(forged)}`, "VALIDATION_INVALID_FIELD", "cursor"],
      ["q=x", "VALIDATION_UNKNOWN_FIELD", "q"],
      ["type=a&type=b", "VALIDATION_INVALID_FIELD", "type"],
    ];
    for (const [qs, code, field] of cases) expectError(await admin(inst, "GET", `/audit?${qs}`), 400, code, field);
  });

  it("housekeeping deletes rows older than audit.retention (default 90 days) and keeps the rest", async () => {
    inst = await accountsInstance();
    await signUp(inst, "old@example.com");
    inst.clock.advance(80 * 86_400_000);
    await signUp(inst, "new@example.com");
    inst.clock.advance(11 * 86_400_000);
    await runHousekeeping(runtimeOf(inst));
    expect((await events()).map((e) => e.type)).toEqual(["user.signup"]);
    await inst.close();

    inst = await createTestInstance([{ ...accountsSpec(), audit: { retention: "1d" } }]);
    await signUp(inst, "a@example.com");
    inst.clock.advance(2 * 86_400_000);
    await signUp(inst, "b@example.com");
    await runHousekeeping(runtimeOf(inst));
    const left = dbOf(inst).query("SELECT count(*) AS n FROM _audit").get() as { n: number };
    expect(left.n).toBe(1);
  });

  it("answers only once the audit rows of its events are written, on success and on error (a slow audit write, as on PostgreSQL)", async () => {
    inst = await accountsInstance([], { auth: { rate_limits: { login_failures_per_account: "off" } } });
    await signUp(inst, "slow@example.com");
    // Every audit write now takes 80 ms, as a round trip to a busy database server may.
    const audit = runtimeOf(inst).store.audit as { append: (row: unknown) => Promise<unknown> };
    const append = audit.append.bind(audit);
    audit.append = async (row) => {
      await Bun.sleep(80);
      return append(row);
    };
    const rotated = await admin(inst, "POST", "/rotate-jwt-secret");
    expect(rotated.status).toBe(200);
    expect((await events()).map((e) => e.type)).toContain("admin.jwt_secret_rotated");
    const failed = await inst.req("POST", "/p/demo/auth/login", { body: { email: "slow@example.com", password: "not the password" } });
    expect(failed.status).toBe(401);
    expect((await events()).map((e) => e.type)).toContain("user.login_failed");
    audit.append = append;
  });
});
