import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, decodeJwtPayload, expectError, logIn, dbOf, signUp, type Session } from "../helpers/auth.ts";

const ADMIN_KEY = "sk_forwardTestAdminKey0123456789abcdefXYZ";

function claimsSpec(extraAuth: Record<string, unknown> = {}) {
  const spec = authSpec({
    verifyEmail: true,
    columns: {
      display_name: "string max_length 80",
      role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
      plan_tier: "string default free",
      seats: "int default 1",
      beta: "bool default false",
      prefs: "json",
      secret_note: "string hidden",
    },
    auth: { token_claims: ["role", "plan_tier", "seats", "beta", "prefs", "display_name"], ...extraAuth },
  });
  spec.keys = { admin: ADMIN_KEY };
  return spec;
}

for (const alg of ["HS256", "EdDSA", "ES256"] as const) {
  describe(`GET|HEAD /auth/forward (${alg})`, () => {
    let inst: TestInstance;
    let s: Session;
    beforeAll(async () => {
      inst = await createTestInstance([claimsSpec({ signing: { algorithm: alg } })]);
      s = await signUp(inst, "fwd@example.com", { fields: { display_name: "Ada Lovelace\u00e9", prefs: { theme: "dark" } } });
    });
    afterAll(() => inst.close());

    const forward = (token?: string, query = "", method = "GET", headers: Record<string, string> = {}) =>
      inst.req(method, `/p/demo/auth/forward${query}`, { token, headers });

    it("answers 200 with the identity headers and an empty body for a valid token", async () => {
      const r = await forward(s.token);
      expect(r.status).toBe(200);
      expect(r.text).toBe("");
      expect(r.headers.get("x-latchkey-user-id")).toBe(s.user.id);
      expect(r.headers.get("x-latchkey-email")).toBe("fwd@example.com");
      expect(r.headers.get("x-latchkey-email-verified")).toBe("false");
      expect(r.headers.get("x-latchkey-session-id")).toBe(decodeJwtPayload(s.token).sid as string);
      expect(r.headers.get("cache-control")).toBe("no-store");
    });

    it("sends the token claims as X-Latchkey-Claim-* headers, percent-encoded, and never a hidden column", async () => {
      const r = await forward(s.token);
      expect(r.headers.get("x-latchkey-claim-role")).toBe("user");
      expect(r.headers.get("x-latchkey-claim-plan-tier")).toBe("free");
      expect(r.headers.get("x-latchkey-claim-seats")).toBe("1");
      expect(r.headers.get("x-latchkey-claim-beta")).toBe("false");
      expect(decodeURIComponent(r.headers.get("x-latchkey-claim-prefs")!)).toBe('{"theme":"dark"}');
      expect(r.headers.get("x-latchkey-claim-display-name")).toBe("Ada%20Lovelace%C3%A9");
      expect(decodeURIComponent(r.headers.get("x-latchkey-claim-display-name")!)).toBe("Ada Lovelace\u00e9");
      expect([...r.headers.keys()].filter((h) => h.includes("secret"))).toEqual([]);
    });

    it("answers HEAD like GET, without a body", async () => {
      const r = await forward(s.token, "", "HEAD");
      expect(r.status).toBe(200);
      expect(r.text).toBe("");
      expect(r.headers.get("x-latchkey-user-id")).toBe(s.user.id);
      const none = await forward(undefined, "", "HEAD");
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe("Bearer");
    });

    it("answers 401 with WWW-Authenticate and the envelope without a token or with a bad one", async () => {
      const none = await forward();
      expectError(none, 401, "AUTH_REQUIRED");
      expect(none.headers.get("www-authenticate")).toBe("Bearer");
      expect(none.headers.get("x-latchkey-user-id")).toBeNull();
      const bad = await forward("not.a.token");
      expectError(bad, 401, "AUTH_INVALID_TOKEN");
      expect(bad.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      inst.clock.advance(3600_000);
      const expired = await forward(s.token);
      expectError(expired, 401, "AUTH_TOKEN_EXPIRED");
      expect(expired.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      inst.clock.advance(-3600_000);
    });

    it("?verified=1 answers 403 for an unverified user and 200 once the email is verified", async () => {
      expectError(await forward(s.token, "?verified=1"), 403, "AUTH_EMAIL_NOT_VERIFIED");
      expect((await forward(s.token, "?verified=0")).status).toBe(200);
      expectError(await forward(s.token, "?verified=yes"), 400, "VALIDATION_INVALID_FIELD", "verified");
      dbOf(inst).query("UPDATE users SET email_verified = 1 WHERE id = ?").run(s.user.id);
      const r = await forward(s.token, "?verified=1");
      expect(r.status).toBe(200);
      expect(r.headers.get("x-latchkey-email-verified")).toBe("true");
    });

    it("refuses a session's token at once after its logout, and keeps accepting the other session's", async () => {
      const other = await logIn(inst, "fwd@example.com");
      expect((await forward(other.token)).status).toBe(200);
      expect((await inst.req("POST", "/p/demo/auth/logout", { token: other.token })).status).toBe(200);
      expectError(await forward(other.token), 401, "AUTH_INVALID_TOKEN");
      expect((await forward(s.token)).status).toBe(200);
    });

    it("refuses other methods with 405", async () => {
      expectError(await forward(s.token, "", "POST"), 405, "METHOD_NOT_ALLOWED");
    });
  });
}

describe("auth.token_claims in access tokens", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([claimsSpec({ signing: { algorithm: "EdDSA" } })]);
  });
  afterAll(() => inst.close());

  it("copies the listed columns as JSON values after the registered claims, and no hidden column", async () => {
    const s = await signUp(inst, "claims@example.com", { fields: { display_name: "Ada", secret_note: "psst" } });
    const c = decodeJwtPayload(s.token);
    expect(Object.keys(c)).toEqual(["sub", "aud", "iss", "iat", "exp", "sid", "pv", "email", "email_verified", "role", "plan_tier", "seats", "beta", "prefs", "display_name"]);
    expect({ role: c.role, plan_tier: c.plan_tier, seats: c.seats, beta: c.beta, prefs: c.prefs, display_name: c.display_name })
      .toEqual({ role: "user", plan_tier: "free", seats: 1, beta: false, prefs: null, display_name: "Ada" });
    expect(JSON.stringify(c)).not.toContain("psst");
  });

  it("keeps the values of when the token was issued: a change reaches the next refresh, and the forward headers at once", async () => {
    const s = await signUp(inst, "promote@example.com");
    // A readonly column changes only by an admin: here straight in the table.
    dbOf(inst).query("UPDATE users SET role = 'admin' WHERE id = ?").run(s.user.id);
    expect(decodeJwtPayload(s.token).role).toBe("user");
    expect((await inst.req("GET", "/p/demo/auth/forward", { token: s.token })).headers.get("x-latchkey-claim-role")).toBe("admin");
    const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } });
    expect(decodeJwtPayload(r.body.data.token).role).toBe("admin");
  });
});
