/**
 * Lifecycle of reset and verification links, the sessions a reset ends, and the work the
 * enumeration-safe paths do (counter rows written), asserted directly rather than timed.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { runHousekeeping } from "../../src/projects/housekeeping.ts";
import { APP, NEW_PASSWORD, PASSWORD, deliveredTo, demoProject, forgot, login, outboxRows, signup, tokenIn, withAuth } from "./fixtures.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

const reset = (token: string, new_password = NEW_PASSWORD) => inst.req("POST", "/p/demo/auth/reset-password", { body: { token, new_password } });
const verify = (token: string, opts: { method?: string; headers?: Record<string, string> } = {}) =>
  inst.req(opts.method ?? "GET", `/p/demo/auth/verify?token=${encodeURIComponent(token)}`, { headers: opts.headers });
const JSON_ACCEPT = { accept: "application/json" };

function db() {
  return dbOf(inst);
}
function counterKeys(prefix: string): string[] {
  return (db().query("SELECT key FROM _rate_limits WHERE key LIKE ? ORDER BY key").all(`${prefix}%`) as { key: string }[]).map((r) => r.key);
}
async function lastLink(email: string, template: "verify" | "reset"): Promise<string> {
  const mails = await deliveredTo(inst, email, template);
  return tokenIn(mails[mails.length - 1]);
}

describe("reset links: only the newest works, and a password change ends them (item 8)", () => {
  it("makes an older reset link unusable once a newer one is asked for", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    expect((await forgot(inst, "alice@example.org")).status).toBe(200);
    const older = await lastLink("alice@example.org", "reset");
    expect((await forgot(inst, "alice@example.org")).status).toBe(200);
    const newer = await lastLink("alice@example.org", "reset");
    expect(newer).not.toBe(older);
    const r = await reset(older);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
    expect((await reset(newer)).status).toBe(200);
  });

  it("makes a reset link asked for before a password change unusable after it", async () => {
    inst = await createTestInstance([demoProject()]);
    const { token } = await signup(inst, "alice@example.org");
    await forgot(inst, "alice@example.org");
    const link = await lastLink("alice@example.org", "reset");
    const changed = await inst.req("POST", "/p/demo/auth/change-password", { token, body: { current_password: PASSWORD, new_password: "my own new password" } });
    expect(changed.status).toBe(200);
    const r = await reset(link);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
    expect((await login(inst, "alice@example.org", "my own new password")).status).toBe(200);
  });
});

describe("verification links and mail scanners (item 9, SPEC 6.2)", () => {
  it("does not spend the link on HEAD, and answers success to the same link opened twice", async () => {
    inst = await createTestInstance([demoProject()]);
    const { token } = await signup(inst, "alice@example.org");
    const link = await lastLink("alice@example.org", "verify");
    const head = await verify(link, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect((await inst.req("GET", "/p/demo/auth/me", { token })).body.data.user.email_verified).toBe(false);
    const first = await verify(link);
    expect(first.status).toBe(200);
    expect(first.text).toContain("Email verified");
    expect((await inst.req("GET", "/p/demo/auth/me", { token })).body.data.user.email_verified).toBe(true);
    const second = await verify(link);
    expect(second.status).toBe(200);
    expect(second.text).toContain("Email verified");
    expect((await verify(link, { headers: JSON_ACCEPT })).body).toEqual({ data: { ok: true } });
    expect((await verify(link, { method: "HEAD" })).status).toBe(200);
    expect(inst.logs.filter((l) => l.includes('"event":"email_verified"'))).toHaveLength(1);
  });

  it("needs no public key for HEAD either, like GET", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { require_public_key: true })]);
    const keys = inst.booted.generatedKeys.get("demo")!;
    await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD }, headers: { "x-public-key": keys.public! } });
    const link = await lastLink("alice@example.org", "verify");
    expect((await verify(link, { method: "HEAD" })).status).toBe(200);
    expect((await verify(link)).status).toBe(200);
  });

  it("answers a used link with the redirect's verified=true too", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { verify_redirect_url: `${APP}/done` })]);
    await signup(inst, "alice@example.org");
    const link = await lastLink("alice@example.org", "verify");
    for (let i = 0; i < 2; i++) {
      const r = await verify(link);
      expect(r.status).toBe(303);
      expect(r.headers.get("location")).toBe(`${APP}/done?verified=true`);
    }
  });

  it("answers HEAD and GET with 400 for an unknown link, and a used link fails once it expired or the address changed", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    expect((await verify("A".repeat(43), { method: "HEAD" })).status).toBe(400);
    expect((await verify("A".repeat(43))).status).toBe(400);
    const link = await lastLink("alice@example.org", "verify");
    expect((await verify(link)).status).toBe(200);
    inst.clock.advance(24 * 3_600_000);
    expect((await verify(link)).status).toBe(400);
    expect((await verify(link, { method: "HEAD" })).status).toBe(400);

    await signup(inst, "bob@example.org");
    const bobLink = await lastLink("bob@example.org", "verify");
    expect((await verify(bobLink)).status).toBe(200);
    db().query("UPDATE users SET email = 'bob2@example.org', _email_canonical = 'bob2@example.org' WHERE email = 'bob@example.org'").run();
    expect((await verify(bobLink)).status).toBe(400);
  });
});

describe("resend-verification by email (item 7)", () => {
  it("limits requests per IP with 429, whatever the addresses", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { require_verified_email: true, rate_limits: { resend_verification_per_ip: { max: 3, window: "1h" } } })]);
    for (let i = 0; i < 3; i++) {
      expect((await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: `walk${i}@example.org` }, ip: "10.1.1.1" })).status).toBe(200);
    }
    const limited = await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "walk9@example.org" }, ip: "10.1.1.1" });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "walk9@example.org" }, ip: "10.1.1.2" })).status).toBe(200);
    // Malformed requests count toward nothing.
    expect((await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "not an email" }, ip: "10.1.1.3" })).status).toBe(400);
    expect(counterKeys("resend_verification_per_ip:10.1.1.3")).toEqual([]);
  });

  it("writes the per-address counter for unknown and known addresses alike, and housekeeping drops it when its window ends", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { require_verified_email: true })]);
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD } });
    const userId = s.body.data.user.id as string;
    await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "alice@example.org" } });
    await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "ghost@example.org" } });
    expect(counterKeys("resend_verification_per_user:")).toEqual([
      `resend_verification_per_user:${userId}`,
      "resend_verification_per_user:email:ghost@example.org",
    ].sort());
    inst.clock.advance(3_600_000 - 1);
    await runHousekeeping(inst.booted.projects.get("demo")!);
    expect(counterKeys("resend_verification_per_user:")).toHaveLength(2);
    inst.clock.advance(1);
    await runHousekeeping(inst.booted.projects.get("demo")!);
    expect(counterKeys("resend_verification_per_user:")).toEqual([]);
    expect(counterKeys("resend_verification_per_ip:")).toEqual([]);
  });
});

describe("forgot-password work for unknown emails (item 28)", () => {
  it("writes the per-email counter for an unknown address exactly as for a known one", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "known@example.org");
    await forgot(inst, "known@example.org");
    await forgot(inst, "Nobody@Example.org");
    await forgot(inst, "nobody@example.org");
    const counts = db().query("SELECT key, count FROM _rate_limits WHERE key LIKE 'forgot_password_per_email:%' ORDER BY key").all();
    expect(counts).toEqual([
      { key: "forgot_password_per_email:known@example.org", count: 1 },
      { key: "forgot_password_per_email:nobody@example.org", count: 2 },
    ]);
    expect(outboxRows(inst, "reset_password")).toHaveLength(1);
  });

  it("still writes the counter for an unknown address when forgot_password_per_email is off", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { rate_limits: { forgot_password_per_email: "off" } })]);
    await forgot(inst, "nobody@example.org");
    expect(counterKeys("forgot_password_per_email:")).toEqual(["forgot_password_per_email:nobody@example.org"]);
  });
});

describe("sessions a completed reset ends (items 11, 28)", () => {
  async function sessions(email: string): Promise<{ token: string; refresh_token: string }> {
    const r = await login(inst, email, PASSWORD);
    expect(r.status).toBe(200);
    return r.body.data;
  }
  const alive = async (s: { token: string; refresh_token: string }): Promise<[number, number]> => [
    (await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } })).status,
    (await inst.req("GET", "/p/demo/auth/me", { token: s.token })).status,
  ];

  it("ends every session opened while the email was unverified, and keeps the others, with the revoke settings off", async () => {
    inst = await createTestInstance([demoProject()]);
    // An attacker signs up with the victim's address and keeps the session.
    const attacker = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "victim@example.org", password: PASSWORD } });
    const attackerSession = attacker.body.data as { token: string; refresh_token: string };
    const alsoUnverified = await sessions("victim@example.org");
    // The victim resets through the mailbox.
    await forgot(inst, "victim@example.org");
    expect((await reset(await lastLink("victim@example.org", "reset"))).status).toBe(200);
    expect(await alive(attackerSession)).toEqual([401, 401]);
    expect(await alive(alsoUnverified)).toEqual([401, 401]);
    expect(db().query("SELECT count(*) AS n FROM _sessions WHERE revoke_reason = 'password_reset_unverified'").get()).toEqual({ n: 2 });

    // A session opened after verification survives a later reset (revoke_sessions_on_password_reset: false).
    const verifiedSession = (await login(inst, "victim@example.org", NEW_PASSWORD)).body.data;
    await forgot(inst, "victim@example.org");
    expect((await reset(await lastLink("victim@example.org", "reset"), "yet another passphrase")).status).toBe(200);
    const [refreshStatus] = await alive(verifiedSession);
    expect(refreshStatus).toBe(200);
  });

  it("ends every session with revoke_sessions_on_password_reset", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { revoke_sessions_on_password_reset: true })]);
    await signup(inst, "alice@example.org");
    const link = await lastLink("alice@example.org", "verify");
    expect((await verify(link)).status).toBe(200);
    const verifiedSession = await sessions("alice@example.org");
    await forgot(inst, "alice@example.org");
    expect((await reset(await lastLink("alice@example.org", "reset"))).status).toBe(200);
    expect(await alive(verifiedSession)).toEqual([401, 401]);
  });
});

describe("redirect URLs whose path starts with // (item 14)", () => {
  it("puts the link with a single leading / into the reset mail", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    expect((await forgot(inst, "alice@example.org", { redirect_url: `${APP}//evil.example/next?x=1` })).status).toBe(200);
    const [mail] = await deliveredTo(inst, "alice@example.org", "reset");
    expect(mail.text).toContain(`${APP}/evil.example/next?x=1&token=`);
    expect(mail.text).not.toContain(`${APP}//`);
  });
});
