import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";

let inst: TestInstance;
beforeAll(async () => {
  inst = await createTestInstance([
    { id: "demo", tables: { users: { auth_table: true, columns: { display_name: "string" } } } },
    { id: "noauth", tables: { things: { columns: { name: "string" } } }, cors: { allowed_origins: ["https://app.example.com"] } },
  ]);
});
afterAll(async () => {
  await inst.close();
});

describe("server endpoints", () => {
  it("GET /healthz answers 200 ok with the common headers", async () => {
    const r = await inst.req("GET", "/healthz");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { status: "ok" } });
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("GET /readyz answers ready when every project loaded", async () => {
    const r = await inst.req("GET", "/readyz");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { status: "ready" } });
  });

  it("echoes a well-formed incoming X-Request-Id and replaces a hostile one", async () => {
    const a = await inst.req("GET", "/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(a.headers.get("x-request-id")).toBe("abc-123");
    const b = await inst.req("GET", "/healthz", { headers: { "x-request-id": "<script>" + "x".repeat(100) } });
    expect(b.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("errors", () => {
  const cases: [string, string, number, string][] = [
    ["GET", "/nope", 404, "NOT_FOUND"],
    ["GET", "/p/ghost/auth/me", 404, "PROJECT_NOT_FOUND"],
    ["POST", "/p/ghost/auth/login", 404, "PROJECT_NOT_FOUND"],
    ["GET", "/p/ghost/v1/redirect-origins", 404, "PROJECT_NOT_FOUND"],
    ["POST", "/p/noauth/auth/signup", 404, "AUTH_NOT_ENABLED"],
    ["POST", "/p/noauth/auth/login", 404, "AUTH_NOT_ENABLED"],
    ["DELETE", "/healthz", 405, "METHOD_NOT_ALLOWED"],
    ["GET", "/p/demo/v1/rotate-keys", 405, "METHOD_NOT_ALLOWED"],
    ["DELETE", "/p/demo/v1/redirect-origins", 405, "METHOD_NOT_ALLOWED"],
  ];
  for (const [method, path, status, code] of cases) {
    it(`${method} ${path} answers ${status} ${code} in the envelope with a request id`, async () => {
      const r = await inst.req(method, path, { body: method === "GET" || method === "DELETE" ? undefined : {} });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(typeof r.body.error.message).toBe("string");
      expect(r.body.error.request_id).toBe(r.headers.get("x-request-id"));
      expect(r.headers.get("content-type")).toContain("application/json");
    });
  }

  it("405 names the allowed methods", async () => {
    const r = await inst.req("GET", "/p/demo/v1/rotate-keys");
    expect(r.headers.get("allow")).toContain("POST");
  });

  it("a body over 64 KiB answers 413 PAYLOAD_TOO_LARGE in the envelope", async () => {
    const big = JSON.stringify({ allowed_redirect_origins: ["x".repeat(70 * 1024)] });
    const r = await inst.req("PUT", "/p/demo/v1/redirect-origins", { rawBody: big, headers: { "x-admin-key": "sk_x" } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(r.body.error.request_id).toBeTruthy();
  });

  it("a chunked body over 64 KiB without Content-Length also answers 413", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 6; i++) c.enqueue(chunk);
        c.close();
      },
    });
    const key = inst.booted.generatedKeys.get("demo")!.admin!;
    const res = await inst.booted.app.handle(
      new Request("http://localhost/p/demo/v1/redirect-origins", { method: "PUT", body: stream, headers: { "x-admin-key": key } }),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("parses a JSON body whatever the Content-Type says", async () => {
    const key = inst.booted.generatedKeys.get("demo")!.admin!;
    const r = await inst.req("PUT", "/p/demo/v1/redirect-origins", {
      rawBody: JSON.stringify({ allowed_redirect_origins: ["https://a.com"] }),
      headers: { "x-admin-key": key, "content-type": "application/x-www-form-urlencoded" },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.allowed_redirect_origins).toEqual(["https://a.com"]);
  });

  it("POST /v1/rotate-jwt-secret answers {rotated: true}", async () => {
    const key = inst.booted.generatedKeys.get("demo")!.admin!;
    const before = inst.booted.projects.get("demo")!.jwt.current();
    const r = await inst.req("POST", "/p/demo/v1/rotate-jwt-secret", { headers: { "x-admin-key": key } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { rotated: true } });
    expect(Buffer.from(inst.booted.projects.get("demo")!.jwt.current()).equals(Buffer.from(before))).toBe(false);
  });
});

describe("CORS", () => {
  it("answers a preflight with 204 and the allowed headers, any origin by default", async () => {
    const r = await inst.req("OPTIONS", "/p/demo/auth/login", {
      headers: { origin: "https://anything.io", "access-control-request-method": "POST" },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    const allowed = r.headers.get("access-control-allow-headers") ?? "";
    for (const h of ["Authorization", "Content-Type", "X-Admin-Key", "X-Public-Key", "X-Request-Id"]) expect(allowed).toContain(h);
    expect(r.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("echoes only listed origins for a project with a CORS list", async () => {
    const ok = await inst.req("OPTIONS", "/p/noauth/v1/redirect-origins", { headers: { origin: "https://app.example.com" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const no = await inst.req("OPTIONS", "/p/noauth/v1/redirect-origins", { headers: { origin: "https://evil.com" } });
    expect(no.headers.get("access-control-allow-origin")).toBeNull();
  });
});
