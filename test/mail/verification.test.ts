import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { APP, PASSWORD, deliveredTo, demoProject, login, outboxRows, signup, tokenIn, withAuth } from "./fixtures.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

const verify = (token: string, headers: Record<string, string> = {}, ip?: string) =>
  inst.req("GET", `/p/demo/auth/verify?token=${encodeURIComponent(token)}`, { headers, ip });
const JSON_ACCEPT = { accept: "application/json" };

async function verifyTokenFor(email: string): Promise<string> {
  const mails = await deliveredTo(inst, email, "verify");
  return tokenIn(mails[mails.length - 1]);
}

describe("signup with verify_email", () => {
  it("queues one verification mail in the signup transaction, with a link built from the public URL", async () => {
    inst = await createTestInstance([demoProject()]);
    await inst.req("POST", "/p/demo/auth/signup", {
      body: { email: "alice@example.org", password: PASSWORD },
      headers: { host: "evil.example", "x-forwarded-host": "evil.example" },
    });
    expect(outboxRows(inst, "verify_email")).toHaveLength(1);
    const [mail] = await deliveredTo(inst, "alice@example.org", "verify");
    expect(mail.subject).toBe("Confirm your email for Demo App");
    expect(mail.text).toContain("http://127.0.0.1:8080/p/demo/auth/verify?token=");
    expect(mail.text).not.toContain("evil.example");
    expect(mail.text).toContain("expires in 1 day");
    expect(mail.html).toContain('href="http://127.0.0.1:8080/p/demo/auth/verify?token=');
  });

  it("queues nothing when the table does not ask for verification", async () => {
    const spec = demoProject();
    (spec.tables as any).users.verify_email = false;
    inst = await createTestInstance([spec]);
    await signup(inst, "alice@example.org");
    expect(outboxRows(inst)).toHaveLength(0);
  });
});

describe("GET /auth/verify", () => {
  it("verifies with an HTML page (no-store), answers success again for the used link, and 400 for a superseded one", async () => {
    inst = await createTestInstance([demoProject({ name: "Demo <b>App</b>" })]);
    const { token } = await signup(inst, "alice@example.org");
    const superseded = await verifyTokenFor("alice@example.org");
    expect((await inst.req("POST", "/p/demo/auth/resend-verification", { token })).status).toBe(200);
    const link = await verifyTokenFor("alice@example.org");
    const ok = await verify(link);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("text/html");
    expect(ok.headers.get("cache-control")).toBe("no-store");
    expect(ok.text).toContain("Email verified");
    expect(ok.text).toContain("Demo &lt;b&gt;App&lt;/b&gt;");
    expect(ok.text).not.toContain("<b>App</b>");
    const me = await inst.req("GET", "/p/demo/auth/me", { token });
    expect(me.body.data.user.email_verified).toBe(true);
    // SPEC 6.2: mail scanners open links first; a used link answers success until it expires.
    const again = await verify(link);
    expect(again.status).toBe(200);
    expect(again.text).toContain("Email verified");
    const dead = await verify(superseded);
    expect(dead.status).toBe(400);
    expect(dead.headers.get("content-type")).toContain("text/html");
    expect(dead.text).not.toContain(superseded);
  });

  it("answers JSON to Accept: application/json", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const link = await verifyTokenFor("alice@example.org");
    const ok = await verify(link, JSON_ACCEPT);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ data: { ok: true } });
    const used = await verify(link, JSON_ACCEPT);
    expect(used.status).toBe(200);
    expect(used.body).toEqual({ data: { ok: true } });
    const unknown = await verify("C".repeat(43), JSON_ACCEPT);
    expect(unknown.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
    const missing = await inst.req("GET", "/p/demo/auth/verify", { headers: JSON_ACCEPT });
    expect(missing.status).toBe(400);
  });

  it("answers 400 for an expired link", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const link = await verifyTokenFor("alice@example.org");
    inst.clock.advance(24 * 3_600_000 + 1_000);
    const r = await verify(link, JSON_ACCEPT);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
  });

  it("redirects with 303 to verify_redirect_url with verified=true or error=invalid_token", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { verify_redirect_url: `${APP}/welcome?src=mail` })]);
    await signup(inst, "alice@example.org");
    const link = await verifyTokenFor("alice@example.org");
    const ok = await verify(link);
    expect(ok.status).toBe(303);
    const to = new URL(ok.headers.get("location")!);
    expect(to.origin + to.pathname).toBe(`${APP}/welcome`);
    expect(to.searchParams.get("src")).toBe("mail");
    expect(to.searchParams.get("verified")).toBe("true");
    expect(ok.headers.get("referrer-policy")).toBe("no-referrer");
    const used = await verify(link);
    expect(used.status).toBe(303);
    expect(new URL(used.headers.get("location")!).searchParams.get("verified")).toBe("true");
    const unknown = "E".repeat(43);
    const bad = await verify(unknown);
    expect(bad.status).toBe(303);
    expect(new URL(bad.headers.get("location")!).searchParams.get("error")).toBe("invalid_token");
    expect(bad.headers.get("location")).not.toContain(unknown);
  });

  it("needs no public key even when the project requires one (it is opened from an email)", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { require_public_key: true })]);
    const keys = inst.booted.generatedKeys.get("demo")!;
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD }, headers: { "x-public-key": keys.public! } });
    expect(r.status).toBe(201);
    const link = await verifyTokenFor("alice@example.org");
    expect((await verify(link, JSON_ACCEPT)).status).toBe(200);
    const forgotWithoutKey = await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "alice@example.org", redirect_url: APP } });
    expect(forgotWithoutKey.status).toBe(401);
  });

  it("lets exactly one of 10 concurrent uses of one link spend it; the others answer \"already verified\"", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const link = await verifyTokenFor("alice@example.org");
    const results = await Promise.all(Array.from({ length: 10 }, () => verify(link, JSON_ACCEPT)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(inst.logs.filter((l) => l.includes('"event":"email_verified"'))).toHaveLength(1);
    const db = dbOf(inst);
    expect(db.query("SELECT count(*) AS n FROM _link_tokens WHERE kind = 'verify' AND used_at IS NOT NULL").get()).toEqual({ n: 1 });
  });

  it("answers 429 past link_per_ip", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { rate_limits: { link_per_ip: { max: 3, window: "15m" } } })]);
    for (let i = 0; i < 3; i++) expect((await verify("D".repeat(43), JSON_ACCEPT)).status).toBe(400);
    const limited = await verify("D".repeat(43), JSON_ACCEPT);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("RATE_LIMITED");
    const page = await verify("D".repeat(43));
    expect(page.status).toBe(429);
    expect(page.headers.get("retry-after")).not.toBeNull();
    expect((await verify("D".repeat(43), JSON_ACCEPT, "10.2.2.2")).status).toBe(400);
  });
});

describe("POST /auth/resend-verification", () => {
  it("queues a new link, makes older links stop working, and allows 3 resends an hour (the signup mail does not count)", async () => {
    inst = await createTestInstance([demoProject()]);
    const { token } = await signup(inst, "alice@example.org");
    const first = await verifyTokenFor("alice@example.org");
    for (let i = 0; i < 3; i++) {
      const r = await inst.req("POST", "/p/demo/auth/resend-verification", { token });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ data: { ok: true } });
    }
    const limited = await inst.req("POST", "/p/demo/auth/resend-verification", { token });
    expect(limited.status).toBe(429);
    expect(outboxRows(inst, "verify_email")).toHaveLength(4);
    const latest = await verifyTokenFor("alice@example.org");
    expect(latest).not.toBe(first);
    expect((await verify(first, JSON_ACCEPT)).status).toBe(400);
    expect((await verify(latest, JSON_ACCEPT)).status).toBe(200);
    const again = await inst.req("POST", "/p/demo/auth/resend-verification", { token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ data: { ok: true, already_verified: true } });
  });

  it("drops a queued verification mail whose link was superseded before it was sent", async () => {
    inst = await createTestInstance([demoProject()]);
    const { token } = await signup(inst, "alice@example.org");
    await inst.req("POST", "/p/demo/auth/resend-verification", { token });
    const counts = await inst.outbox.deliver("demo");
    expect(counts).toEqual({ sent: 1, retried: 0, failed: 1 });
    const rows = outboxRows(inst, "verify_email");
    expect(rows.map((r) => r.status).sort()).toEqual(["failed", "sent"]);
    expect(rows.every((r) => r.payload === null)).toBe(true);
  });

  it("needs a bearer token unless require_verified_email", async () => {
    inst = await createTestInstance([demoProject()]);
    const r = await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "alice@example.org" } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("AUTH_REQUIRED");
  });
});

describe("require_verified_email", () => {
  it("signs up without tokens, refuses login with 403 only after a correct password, and resends by email with one answer for all", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { require_verified_email: true })]);
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
    expect(s.body.data.token).toBeUndefined();
    expect(s.body.data.refresh_token).toBeUndefined();
    expect(s.body.data.user.email_verified).toBe(false);

    const right = await login(inst, "alice@example.org", PASSWORD);
    expect(right.status).toBe(403);
    expect(right.body.error.code).toBe("AUTH_EMAIL_NOT_VERIFIED");
    const wrong = await login(inst, "alice@example.org", "wrong password!!");
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("AUTH_INVALID_CREDENTIALS");

    await inst.req("POST", "/p/demo/auth/signup", { body: { email: "verified@example.org", password: PASSWORD } });
    const vlink = await verifyTokenFor("verified@example.org");
    expect((await verify(vlink, JSON_ACCEPT)).status).toBe(200);

    const before = outboxRows(inst, "verify_email").length;
    const answers = new Set<string>();
    for (const email of ["alice@example.org", "nobody@example.org", "verified@example.org", "ALICE@example.org"]) {
      const r = await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email } });
      expect(r.status).toBe(200);
      answers.add(r.text);
    }
    expect([...answers]).toEqual([JSON.stringify({ data: { ok: true } })]);
    const queued = outboxRows(inst, "verify_email").slice(before);
    expect(queued.map((r) => r.to_addr)).toEqual(["alice@example.org", "alice@example.org"]);

    // The per-user cap is answered with the same 200 (no mail).
    for (let i = 0; i < 3; i++) expect((await inst.req("POST", "/p/demo/auth/resend-verification", { body: { email: "alice@example.org" } })).status).toBe(200);
    expect(outboxRows(inst, "verify_email").slice(before)).toHaveLength(3);

    const link = await verifyTokenFor("alice@example.org");
    expect((await verify(link, JSON_ACCEPT)).status).toBe(200);
    expect((await login(inst, "alice@example.org", PASSWORD)).status).toBe(200);
  });
});
