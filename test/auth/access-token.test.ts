import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { createHmac } from "node:crypto";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, authSpec, b64url, decodeJwtPayload, expectError, forgeJwt, logIn, dbOf, runtimeOf, signUp, type Session } from "../helpers/auth.ts";

const me = (inst: TestInstance, token: string | undefined, headers: Record<string, string> = {}) =>
  inst.req("GET", "/p/demo/auth/me", { token, headers });

describe("access tokens: claims and header", () => {
  let inst: TestInstance;
  let s: Session;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec({ auth: { access_token_ttl: "15m" } })]);
    s = await signUp(inst, "claims@example.com");
  });
  afterAll(() => inst.close());

  it("carries sub, aud, iss, iat, exp, sid, pv, email and email_verified, signed HS256", async () => {
    const [header] = s.token.split(".");
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    const c = decodeJwtPayload(s.token);
    const iat = Math.floor(inst.clock.now / 1000);
    expect(c).toEqual({
      sub: s.user.id,
      aud: "demo",
      iss: "http://127.0.0.1:8080/p/demo",
      iat,
      exp: iat + 900,
      sid: expect.any(String),
      pv: 1,
      email: "claims@example.com",
      email_verified: false,
    });
  });

  it("accepts the Bearer scheme in any case", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
      expect((await me(inst, undefined, { authorization: `${scheme} ${s.token}` })).status).toBe(200);
    }
  });

  const missing: [string, Record<string, string>][] = [
    ["no Authorization header", {}],
    ["an empty bearer token", { authorization: "Bearer " }],
    ["another scheme", { authorization: `Basic ${btoa("a:b")}` }],
    ["a bare token without a scheme", { authorization: "eyJhbGciOi.x.y" }],
  ];
  for (const [name, headers] of missing) {
    it(`answers 401 AUTH_REQUIRED for ${name}`, async () => {
      expectError(await me(inst, undefined, headers), 401, "AUTH_REQUIRED");
    });
  }
});

describe("access token attacks answer 401, never 500", () => {
  let inst: TestInstance;
  let s: Session;
  let secret: Uint8Array;
  let claims: Record<string, unknown>;
  let otherProjectToken: string;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec(), authSpec({ id: "other" })]);
    s = await signUp(inst, "target@example.com");
    otherProjectToken = (await signUp(inst, "target@example.com", { project: "other" })).token;
    secret = runtimeOf(inst).jwt.current();
    claims = decodeJwtPayload(s.token);
  });
  afterAll(() => inst.close());

  const HS256 = { alg: "HS256", typ: "JWT" };
  const cases: [string, () => string][] = [
    ["alg none without a signature", () => `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`],
    ["alg None without a signature", () => `${b64url({ alg: "None", typ: "JWT" })}.${b64url(claims)}.`],
    ["alg NONE without a signature", () => `${b64url({ alg: "NONE", typ: "JWT" })}.${b64url(claims)}.`],
    ["alg nOnE without a signature", () => `${b64url({ alg: "nOnE" })}.${b64url(claims)}.`],
    ["alg none with the real signature kept", () => `${b64url({ alg: "none", typ: "JWT" })}.${s.token.split(".")[1]}.${s.token.split(".")[2]}`],
    ["alg none with two parts only", () => `${b64url({ alg: "none" })}.${b64url(claims)}`],
    ["HS512 signed with the right secret", () => forgeJwt({ alg: "HS512", typ: "JWT" }, claims, secret, "sha512")],
    ["HS384-labelled token signed with the right secret", () => forgeJwt({ alg: "HS384", typ: "JWT" }, claims, secret)],
    ["RS256-labelled token HMAC-signed with the right secret", () => forgeJwt({ alg: "RS256", typ: "JWT" }, claims, secret)],
    ["a token of another project", () => otherProjectToken],
    ["a right-secret token with another audience", () => forgeJwt(HS256, { ...claims, aud: "other" }, secret)],
    ["a right-secret token with another issuer", () => forgeJwt(HS256, { ...claims, iss: "https://evil.example/p/demo" }, secret)],
    ["a right-secret token without exp", () => { const { exp: _exp, ...rest } = claims; return forgeJwt(HS256, rest, secret); }],
    ["a right-secret token with a string exp", () => forgeJwt(HS256, { ...claims, exp: String(claims.exp) }, secret)],
    ["a right-secret token for a made-up session", () => forgeJwt(HS256, { ...claims, sid: "00000000-0000-4000-8000-000000000000" }, secret)],
    ["a right-secret token for another user in this session", () => forgeJwt(HS256, { ...claims, sub: "00000000-0000-4000-8000-000000000000" }, secret)],
    ["a right-secret token with a stale password version", () => forgeJwt(HS256, { ...claims, pv: 0 }, secret)],
    ["a tampered payload (email_verified flipped)", () => `${s.token.split(".")[0]}.${b64url({ ...claims, email_verified: true })}.${s.token.split(".")[2]}`],
    ["a tampered payload (exp extended)", () => `${s.token.split(".")[0]}.${b64url({ ...claims, exp: Number(claims.exp) + 86400 })}.${s.token.split(".")[2]}`],
    ["a flipped signature character", () => { const t = s.token; const i = t.length - 5; return t.slice(0, i) + (t[i] === "A" ? "B" : "A") + t.slice(i + 1); }],
    ["a flipped last signature character", () => { const t = s.token; return t.slice(0, -1) + (t.endsWith("A") ? "B" : "A"); }],
    ["a signature of the wrong length", () => `${s.token}AA`],
    ["a fourth segment", () => `${s.token}.x`],
    ["a refresh token as Bearer", () => s.refresh_token],
    ["garbage", () => "not-a-jwt"],
    ["three empty segments", () => ".."],
    ["a non-JSON payload", () => { const body = `${s.token.split(".")[0]}.${b64url("not json")}`; return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`; }],
    ["a JSON array payload", () => forgeJwt(HS256, [claims], secret)],
    ["a 10 KB token", () => "a".repeat(10_000)],
  ];
  for (const [name, make] of cases) {
    it(`refuses ${name} with 401 AUTH_INVALID_TOKEN`, async () => {
      const r = await me(inst, make());
      expectError(r, 401, "AUTH_INVALID_TOKEN");
    });
  }

  it("still accepts the genuine token (the attacks above are not refused for another reason)", async () => {
    expect((await me(inst, s.token)).status).toBe(200);
    expect((await me(inst, forgeJwt(HS256, claims, secret))).status).toBe(200);
  });
});

describe("access tokens that stop working", () => {
  let inst: TestInstance | null = null;
  afterEach(async () => {
    await inst?.close();
    inst = null;
  });

  it("answers 401 AUTH_TOKEN_EXPIRED once exp is reached, with no leeway, and the refresh token still works", async () => {
    inst = await createTestInstance([authSpec({ auth: { access_token_ttl: "15m" } })]);
    const s = await signUp(inst, "exp@example.com");
    inst.clock.advance(15 * 60_000 - 1000);
    expect((await me(inst, s.token)).status).toBe(200);
    inst.clock.advance(1000);
    expectError(await me(inst, s.token), 401, "AUTH_TOKEN_EXPIRED");
    const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } });
    expect((await me(inst, r.body.data.token)).status).toBe(200);
  });

  it("answers 401 AUTH_INVALID_TOKEN (not expired) for an expired token with a bad signature", async () => {
    inst = await createTestInstance([authSpec({ auth: { access_token_ttl: "15m" } })]);
    const s = await signUp(inst, "exp2@example.com");
    inst.clock.advance(3600_000);
    expectError(await me(inst, s.token.slice(0, -2) + (s.token.endsWith("AA") ? "BB" : "AA")), 401, "AUTH_INVALID_TOKEN");
  });

  it("refuses tokens after logout, and logout all ends the user's other sessions", async () => {
    inst = await createTestInstance([authSpec()]);
    const a = await signUp(inst, "lo@example.com");
    const b = await logIn(inst, "lo@example.com");
    const c = await logIn(inst, "lo@example.com");
    expect((await inst.req("POST", "/p/demo/auth/logout", { token: a.token })).body).toEqual({ data: { ok: true } });
    expectError(await me(inst, a.token), 401, "AUTH_INVALID_TOKEN");
    expect((await me(inst, b.token)).status).toBe(200);
    expect((await inst.req("POST", "/p/demo/auth/logout", { token: b.token, body: { all: true } })).status).toBe(200);
    expectError(await me(inst, b.token), 401, "AUTH_INVALID_TOKEN");
    expectError(await me(inst, c.token), 401, "AUTH_INVALID_TOKEN");
    expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: c.refresh_token } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
    expectError(await inst.req("POST", "/p/demo/auth/logout", { token: c.token }), 401, "AUTH_INVALID_TOKEN");
  });

  it("refuses every token issued before rotate-jwt-secret, while refresh tokens keep working", async () => {
    inst = await createTestInstance([authSpec()]);
    const adminKey = inst.booted.generatedKeys.get("demo")!.admin!;
    const s = await signUp(inst, "rot@example.com");
    expect((await inst.req("POST", "/p/demo/v1/rotate-jwt-secret", { headers: { "x-admin-key": adminKey } })).status).toBe(200);
    expectError(await me(inst, s.token), 401, "AUTH_INVALID_TOKEN");
    const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: s.refresh_token } });
    expect(r.status).toBe(200);
    expect((await me(inst, r.body.data.token)).status).toBe(200);
    // The rotation survives a restart.
    await inst.restart();
    expectError(await me(inst, s.token), 401, "AUTH_INVALID_TOKEN");
    expect((await me(inst, r.body.data.token)).status).toBe(200);
  });

  it("refuses the token of a user deleted from the database", async () => {
    inst = await createTestInstance([authSpec()]);
    const s = await signUp(inst, "del@example.com");
    dbOf(inst).query("DELETE FROM users WHERE id = ?").run(s.user.id);
    expectError(await me(inst, s.token), 401, "AUTH_INVALID_TOKEN");
  });

  it("refuses every outstanding token after a password change, accepts the new one, and keeps refresh tokens by default", async () => {
    inst = await createTestInstance([authSpec()]);
    const a = await signUp(inst, "cp@example.com");
    const b = await logIn(inst, "cp@example.com");
    const r = await inst.req("POST", "/p/demo/auth/change-password", { token: a.token, body: { current_password: PASSWORD, new_password: "a brand new secret" } });
    expect(r.status).toBe(200);
    expectError(await me(inst, a.token), 401, "AUTH_INVALID_TOKEN");
    expectError(await me(inst, b.token), 401, "AUTH_INVALID_TOKEN");
    expect((await me(inst, r.body.data.token)).status).toBe(200);
    const rb = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: b.refresh_token } });
    expect(rb.status).toBe(200);
    expect(decodeJwtPayload(rb.body.data.token).pv).toBe(2);
    expect((await me(inst, rb.body.data.token)).status).toBe(200);
  });
});

describe("public key requirement", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec({ auth: { require_public_key: true } })]);
  });
  afterAll(() => inst.close());

  it("answers 401 PUBLIC_KEY_REQUIRED without X-Public-Key, before reading the body", async () => {
    expectError(await inst.req("POST", "/p/demo/auth/signup", { rawBody: "{oops" }), 401, "PUBLIC_KEY_REQUIRED");
    expectError(await inst.req("GET", "/p/demo/auth/me"), 401, "PUBLIC_KEY_REQUIRED");
  });

  it("answers 401 PUBLIC_KEY_INVALID for a wrong key or the admin key", async () => {
    const adminKey = inst.booted.generatedKeys.get("demo")!.admin!;
    for (const key of [`pk_${"x".repeat(43)}`, adminKey]) {
      expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "a@example.com", password: PASSWORD }, headers: { "x-public-key": key } }), 401, "PUBLIC_KEY_INVALID");
    }
  });

  it("serves with the project's public key, and refuses the old one after rotate-keys", async () => {
    const keys = inst.booted.generatedKeys.get("demo")!;
    const headers = { "x-public-key": keys.public! };
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "pk@example.com", password: PASSWORD }, headers });
    expect(r.status).toBe(201);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token, headers })).status).toBe(200);
    const rotated = await inst.req("POST", "/p/demo/v1/rotate-keys", { body: { public: true }, headers: { "x-admin-key": keys.admin! } });
    expect(rotated.status).toBe(200);
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token, headers }), 401, "PUBLIC_KEY_INVALID");
    const fresh = { "x-public-key": rotated.body.data.public_key };
    expect((await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token, headers: fresh })).status).toBe(200);
  });
});
