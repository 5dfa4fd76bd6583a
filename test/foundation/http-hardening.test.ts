/** In-process side of issue 8 items 1–5 (the real-server side is test/cli/http-hardening.test.ts). */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, PASSWORD, signUp } from "../helpers/auth.ts";
import { ERROR_STATUS, type ErrorCode } from "../../src/http/errors.ts";
import { challengeFor } from "../../src/http/www-authenticate.ts";
import { lastResortResponse } from "../../src/app.ts";
import { createMemoryLogger } from "../../src/log.ts";

const APP = "https://app.example.com";
let inst: TestInstance;
beforeAll(async () => {
  inst = await createTestInstance([
    { ...authSpec({ id: "acc", auth: { rate_limits: { login_per_ip: { max: 2, window: "15m" } } } }), cors: { allowed_origins: [APP] } },
    authSpec({ id: "pub", auth: { require_public_key: true } }),
  ]);
});
afterAll(async () => {
  await inst.close();
});

const handle = (url: string, init?: RequestInit): Promise<Response> => inst.booted.app.handle(new Request(url, init));

describe("CORS and non-canonical project ids (item 1)", () => {
  it("refuses /p/%61cc/... with 404 and no allowed origin, on every route", async () => {
    for (const [method, path] of [["GET", "/p/%61cc/auth/me"], ["POST", "/p/%61cc/auth/login"], ["GET", "/p/%61cc/v1/redirect-origins"], ["OPTIONS", "/p/%61cc/auth/login"]]) {
      const r = await inst.req(method, path, { headers: { origin: "https://evil.example" } });
      expect(r.headers.get("access-control-allow-origin")).toBeNull();
      if (method !== "OPTIONS") {
        expect(r.status).toBe(404);
        expect(r.body.error.code).toBe("PROJECT_NOT_FOUND");
      }
    }
  });

  it("still serves the canonical path with the project's own origins", async () => {
    const r = await inst.req("GET", "/p/acc/auth/me", { headers: { origin: APP } });
    expect(r.status).toBe(401);
    expect(r.headers.get("access-control-allow-origin")).toBe(APP);
    expect(r.headers.get("access-control-expose-headers")).toBe("Retry-After, X-Request-Id");
  });
});

describe("malformed escapes and short hosts (items 2, 3)", () => {
  for (const path of ["/p/%zz/x", "/p/%", "/p/%E0%A4%A", "/p/acc/auth/%zz"]) {
    it(`${path} answers 404 in the envelope`, async () => {
      const res = await handle(`http://localhost${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const body = (await res.json()) as { error: { code: string; request_id: string } };
      expect(body.error.code).toBe("NOT_FOUND");
      expect(body.error.request_id).toBe(res.headers.get("x-request-id")!);
    });
  }

  it("routes a one-letter host like any other (no 405 naming GET)", async () => {
    const h = await handle("http://a/healthz/");
    expect(h.status).toBe(200);
    const me = await handle("http://a/p/acc/auth/me/");
    expect(me.status).toBe(401);
    expect(((await me.json()) as { error: { code: string } }).error.code).toBe("AUTH_REQUIRED");
  });

  it("still answers 405 with Allow for a method the route does not have", async () => {
    const r = await handle("http://a/healthz/", { method: "DELETE" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, OPTIONS");
  });

  it("a failure outside the app's handler still answers in the envelope and logs one JSON line", async () => {
    const log = createMemoryLogger("debug");
    const res = lastResortResponse(log, new Error("boom\nwith a second line"));
    expect(res.status).toBe(500);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const body = (await res.json()) as { error: { code: string; request_id: string } };
    expect(body.error.code).toBe("INTERNAL_ERROR");
    expect(body.error.request_id).toBe(res.headers.get("x-request-id")!);
    expect(log.lines.length).toBe(1);
    expect(log.lines[0]).not.toContain("\n");
    expect(JSON.parse(log.lines[0]).request_id).toBe(body.error.request_id);
  });
});

describe("SPEC 5 conventions (item 5)", () => {
  it("has a WWW-Authenticate challenge for every 401 code", () => {
    const codes = (Object.keys(ERROR_STATUS) as ErrorCode[]).filter((c) => ERROR_STATUS[c] === 401);
    expect(codes.length).toBeGreaterThanOrEqual(9);
    for (const c of codes) expect(challengeFor(c)).toMatch(/^(Bearer|ApiKey)\b/);
  });

  it("answers each kind of 401 with the matching challenge", async () => {
    const s = await signUp(inst, "ann@example.com", { project: "acc" });
    const cases: [string, string, Record<string, string>, unknown, string, string][] = [
      ["GET", "/p/acc/auth/me", {}, undefined, "AUTH_REQUIRED", "Bearer"],
      ["GET", "/p/acc/auth/me", { authorization: "Bearer " }, undefined, "AUTH_REQUIRED", "Bearer"],
      ["GET", "/p/acc/auth/me", { authorization: "Bearer abc.def.ghi" }, undefined, "AUTH_INVALID_TOKEN", 'Bearer error="invalid_token"'],
      ["POST", "/p/acc/auth/login", {}, { email: "ann@example.com", password: "wrong password!" }, "AUTH_INVALID_CREDENTIALS", "Bearer"],
      ["POST", "/p/acc/auth/refresh", {}, { refresh_token: "rt_nope" }, "AUTH_INVALID_REFRESH_TOKEN", "Bearer"],
      ["POST", "/p/acc/auth/change-password", { authorization: `Bearer ${s.token}` }, { current_password: "wrong password!", new_password: "another good one" }, "AUTH_INVALID_CREDENTIALS", "Bearer"],
      ["GET", "/p/acc/v1/redirect-origins", {}, undefined, "ADMIN_KEY_REQUIRED", 'Bearer realm="admin"'],
      ["GET", "/p/acc/v1/redirect-origins", { authorization: `Bearer ${s.token}` }, undefined, "ADMIN_KEY_INVALID", 'Bearer realm="admin", error="invalid_token"'],
      ["POST", "/p/pub/auth/login", {}, { email: "x@example.com", password: PASSWORD }, "PUBLIC_KEY_REQUIRED", 'ApiKey header="X-Public-Key"'],
      ["POST", "/p/pub/auth/login", { "x-public-key": "pk_wrong" }, { email: "x@example.com", password: PASSWORD }, "PUBLIC_KEY_INVALID", 'ApiKey header="X-Public-Key", error="invalid_key"'],
    ];
    for (const [method, path, headers, body, code, challenge] of cases) {
      const r = await inst.req(method, path, { headers, body });
      expect({ path, code: r.body?.error?.code }).toEqual({ path, code });
      expect(r.status).toBe(401);
      expect({ code, challenge: r.headers.get("www-authenticate") }).toEqual({ code, challenge });
    }
  });

  it("an expired access token gets invalid_token with a description", async () => {
    const s = await signUp(inst, "exp@example.com", { project: "acc" });
    inst.clock.advance(3601_000);
    const r = await inst.req("GET", "/p/acc/auth/me", { token: s.token });
    expect(r.body.error.code).toBe("AUTH_TOKEN_EXPIRED");
    expect(r.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="The access token expired"');
  });

  it("login answers token_type and expires_in; the 429 body has retry_after equal to Retry-After", async () => {
    await signUp(inst, "rate@example.com", { project: "acc", ip: "198.51.100.9" });
    const ok = await inst.req("POST", "/p/acc/auth/login", { body: { email: "rate@example.com", password: PASSWORD }, ip: "198.51.100.9" });
    expect(ok.status).toBe(200);
    expect(ok.body.data.token_type).toBe("Bearer");
    expect(ok.body.data.expires_in).toBe(3600);
    let r = ok;
    for (let i = 0; i < 3 && r.status !== 429; i++) {
      r = await inst.req("POST", "/p/acc/auth/login", { body: { email: "rate@example.com", password: PASSWORD }, ip: "198.51.100.9" });
    }
    expect(r.status).toBe(429);
    expect(r.body.error.retry_after).toBeGreaterThan(0);
    expect(r.body.error.retry_after).toBe(Number(r.headers.get("retry-after")));
  });
});
