import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { APP, NEW_PASSWORD, PASSWORD, deliveredTo, demoProject, forgot, login, outboxRows, signup, tokenIn, withAuth } from "./fixtures.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

async function resetLinkFor(email: string, redirect = `${APP}/reset`): Promise<string> {
  const r = await forgot(inst, email, { redirect_url: redirect });
  expect(r.status).toBe(200);
  const mails = await deliveredTo(inst, email, "reset");
  return tokenIn(mails[mails.length - 1]);
}

describe("POST /auth/forgot-password", () => {
  it("queues a reset mail to the stored address with the normalized redirect URL plus a token, keeping its query", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "Alice@Example.org");
    const r = await forgot(inst, "alice@EXAMPLE.org", { redirect_url: "https://MyApp.com:443/reset?from=mail&x=a%20b#top" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { ok: true } });
    const [mail] = await deliveredTo(inst, "Alice@Example.org", "reset");
    const link = new URL(/https:\/\/\S+/.exec(mail.text)![0]);
    expect(link.origin).toBe(APP);
    expect(link.pathname).toBe("/reset");
    expect(link.searchParams.get("from")).toBe("mail");
    expect(link.search).toContain("x=a%20b");
    expect(link.searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(link.hash).toBe("#top");
    expect(mail.subject).toBe("Reset your Demo App password");
    expect(mail.from).toBe("Demo <no-reply@myapp.com>");
  });

  it("replaces a token parameter already present in redirect_url instead of adding a second one", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    await forgot(inst, "alice@example.org", { redirect_url: `${APP}/reset?token=attacker&a=1` });
    const [mail] = await deliveredTo(inst, "alice@example.org", "reset");
    const link = new URL(/https:\/\/\S+/.exec(mail.text)![0]);
    expect(link.searchParams.getAll("token")).toHaveLength(1);
    expect(link.searchParams.get("token")).not.toBe("attacker");
    expect(link.searchParams.get("a")).toBe("1");
  });

  const hostile: [string, unknown][] = [
    ["another origin", "https://evil.com/reset"],
    ["a suffix of an allowed host", "https://myapp.com.evil.com/reset"],
    ["a subdomain", "https://www.myapp.com/reset"],
    ["http for an https origin", "http://myapp.com/reset"],
    ["userinfo", "https://myapp.com@evil.com/reset"],
    ["a backslash trick", "https://evil.com\\@myapp.com/"],
    ["scheme-relative", "//myapp.com/reset"],
    ["relative", "/reset"],
    ["javascript:", "javascript:alert(1)"],
    ["a trailing-dot host", "https://myapp.com./reset"],
    ["an encoded host", "https://%6dyapp.com/reset"],
    ["a space", "https://myapp.com /reset"],
    ["too long", `${APP}/${"a".repeat(2100)}`],
    ["a number", 42],
  ];
  for (const [name, url] of hostile) {
    it(`answers 400 VALIDATION_REDIRECT_URL for ${name}, before looking at the email, and queues nothing`, async () => {
      inst = await createTestInstance([demoProject()]);
      await signup(inst, "alice@example.org");
      for (const email of ["alice@example.org", "nobody@example.org", "not an email"]) {
        const r = await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email, redirect_url: url } });
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe("VALIDATION_REDIRECT_URL");
      }
      expect(outboxRows(inst, "reset_password")).toHaveLength(0);
    });
  }

  it("refuses a missing redirect_url, a missing email and unknown fields with 400", async () => {
    inst = await createTestInstance([demoProject()]);
    const cases: [unknown, string, string][] = [
      [{ email: "a@example.org" }, "VALIDATION_REQUIRED_FIELD", "redirect_url"],
      [{ redirect_url: `${APP}/r` }, "VALIDATION_REQUIRED_FIELD", "email"],
      [{ email: "nope", redirect_url: `${APP}/r` }, "VALIDATION_INVALID_FIELD", "email"],
      [{ email: "a@example.org", redirect_url: `${APP}/r`, admin: true }, "VALIDATION_UNKNOWN_FIELD", "admin"],
    ];
    for (const [body, code, field] of cases) {
      const r = await inst.req("POST", "/p/demo/auth/forgot-password", { body });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code, field });
    }
    const malformed = await inst.req("POST", "/p/demo/auth/forgot-password", { rawBody: "{nope" });
    expect(malformed.body.error.code).toBe("VALIDATION_MALFORMED_JSON");
  });

  it("answers 200 for the 4th request of an hour but queues no 4th mail (per-email cap)", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await forgot(inst, "alice@example.org", { ip: `10.0.0.${i + 1}` });
      expect(r.status).toBe(200);
      bodies.push(r.text);
    }
    expect(new Set(bodies).size).toBe(1);
    expect(outboxRows(inst, "reset_password")).toHaveLength(3);
    inst.clock.advance(3_600_000);
    expect((await forgot(inst, "alice@example.org")).status).toBe(200);
    expect(outboxRows(inst, "reset_password")).toHaveLength(4);
  });

  it("answers 429 with Retry-After past the per-IP limit, and malformed requests do not count", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { rate_limits: { forgot_password_per_ip: { max: 2, window: "1h" } } })]);
    for (let i = 0; i < 5; i++) {
      const bad = await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "x@example.org", redirect_url: "https://evil.com" } });
      expect(bad.status).toBe(400);
    }
    expect((await forgot(inst, "a@example.org")).status).toBe(200);
    expect((await forgot(inst, "b@example.org")).status).toBe(200);
    const limited = await forgot(inst, "c@example.org");
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await forgot(inst, "c@example.org", { ip: "10.9.9.9" })).status).toBe(200);
  });

  it("answers known and unknown emails with the same body, median times within 15 ms, and mails only the known one", async () => {
    const generous = { max: 1000, window: "1h" };
    inst = await createTestInstance([
      withAuth(demoProject(), { rate_limits: { forgot_password_per_email: generous, forgot_password_per_ip: generous } }),
    ]);
    await signup(inst, "known@example.org");
    const time = async (email: string): Promise<{ ms: number; text: string; status: number }> => {
      const t0 = performance.now();
      const r = await forgot(inst, email);
      return { ms: performance.now() - t0, text: r.text, status: r.status };
    };
    // Warm up both paths (statement compilation, first-use caches).
    await time("known@example.org");
    await time("warmup@example.org");
    const known: number[] = [];
    const unknown: number[] = [];
    const bodies = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const order = i % 2 === 0 ? ["known", "unknown"] : ["unknown", "known"];
      for (const who of order) {
        const r = await time(who === "known" ? "known@example.org" : `nobody${i}@example.org`);
        expect(r.status).toBe(200);
        bodies.add(r.text);
        (who === "known" ? known : unknown).push(r.ms);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    expect(bodies.size).toBe(1);
    expect(Math.abs(median(known) - median(unknown))).toBeLessThan(15);
    const rows = outboxRows(inst, "reset_password");
    expect(rows).toHaveLength(31);
    expect(rows.every((r) => r.to_addr === "known@example.org")).toBe(true);
  });
});

describe("POST /auth/reset-password", () => {
  it("sets the new password, refuses the old one and old access tokens, verifies the email, does not log in, and mails a notice", async () => {
    inst = await createTestInstance([demoProject()]);
    const { token: oldAccess } = await signup(inst, "alice@example.org");
    const link = await resetLinkFor("alice@example.org");
    const r = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: link, new_password: NEW_PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { ok: true } });
    expect((await inst.req("GET", "/p/demo/auth/me", { token: oldAccess })).status).toBe(401);
    const old = await login(inst, "alice@example.org", PASSWORD);
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe("AUTH_INVALID_CREDENTIALS");
    const fresh = await login(inst, "alice@example.org", NEW_PASSWORD);
    expect(fresh.status).toBe(200);
    expect(fresh.body.data.user.email_verified).toBe(true);
    const notices = await deliveredTo(inst, "alice@example.org", "changed");
    expect(notices).toHaveLength(1);
    expect(notices[0].subject).toBe("Your Demo App password was changed");
  });

  it("keeps the token usable when the new password fails the policy", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const link = await resetLinkFor("alice@example.org");
    const weak = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: link, new_password: "short" } });
    expect(weak.status).toBe(400);
    expect(weak.body.error.code).toBe("VALIDATION_WEAK_PASSWORD");
    const ok = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: link, new_password: NEW_PASSWORD } });
    expect(ok.status).toBe(200);
  });

  it("answers 400 AUTH_INVALID_LINK_TOKEN for unknown, used, expired, superseded and verify-kind tokens", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const reset = (token: string) => inst.req("POST", "/p/demo/auth/reset-password", { body: { token, new_password: NEW_PASSWORD } });
    const expectInvalid = async (token: string): Promise<void> => {
      const r = await reset(token);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
      expect(r.text).not.toContain(token);
    };
    await expectInvalid("A".repeat(43));
    await expectInvalid("not-a-token");

    const verifyToken = tokenIn((await deliveredTo(inst, "alice@example.org", "verify"))[0]);
    await expectInvalid(verifyToken);

    const first = await resetLinkFor("alice@example.org");
    const second = await resetLinkFor("alice@example.org");
    expect((await reset(second)).status).toBe(200);
    await expectInvalid(second); // used
    await expectInvalid(first); // the user's other reset tokens were invalidated

    const third = await resetLinkFor("alice@example.org");
    inst.clock.advance(3_600_000 + 1_000);
    await expectInvalid(third); // expired (reset_token_ttl 1h)
  });

  it("refuses a token once the account's address is no longer the one it was sent to", async () => {
    inst = await createTestInstance([demoProject()]);
    const { userId } = await signup(inst, "alice@example.org");
    const link = await resetLinkFor("alice@example.org");
    dbOf(inst).query(`UPDATE users SET email = 'alice2@example.org', _email_canonical = 'alice2@example.org' WHERE id = ?`).run(userId);
    const r = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: link, new_password: NEW_PASSWORD } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
  });

  it("lets exactly one of 20 concurrent uses of one token succeed", async () => {
    inst = await createTestInstance([demoProject()]);
    await signup(inst, "alice@example.org");
    const link = await resetLinkFor("alice@example.org");
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        inst.req("POST", "/p/demo/auth/reset-password", { body: { token: link, new_password: `${NEW_PASSWORD} ${i}` }, ip: `10.1.0.${i}` }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(19);
    for (const r of results) if (r.status === 400) expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
    await inst.outbox.deliver("demo");
    expect(outboxRows(inst, "password_changed")).toHaveLength(1);
  });

  it("validates before rate limiting and answers 429 past link_per_ip", async () => {
    inst = await createTestInstance([withAuth(demoProject(), { rate_limits: { link_per_ip: { max: 2, window: "15m" } } })]);
    for (let i = 0; i < 4; i++) {
      const bad = await inst.req("POST", "/p/demo/auth/reset-password", { body: { new_password: NEW_PASSWORD } });
      expect(bad.body.error).toMatchObject({ code: "VALIDATION_REQUIRED_FIELD", field: "token" });
    }
    for (let i = 0; i < 2; i++) {
      const r = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: "B".repeat(43), new_password: NEW_PASSWORD } });
      expect(r.body.error.code).toBe("AUTH_INVALID_LINK_TOKEN");
    }
    const limited = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: "B".repeat(43), new_password: NEW_PASSWORD } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).not.toBeNull();
  });
});

describe("POST /auth/change-password", () => {
  it("queues the password_changed notice", async () => {
    inst = await createTestInstance([demoProject()]);
    const { token } = await signup(inst, "alice@example.org");
    const r = await inst.req("POST", "/p/demo/auth/change-password", { token, body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expect(r.status).toBe(200);
    expect(await deliveredTo(inst, "alice@example.org", "changed")).toHaveLength(1);
  });
});
