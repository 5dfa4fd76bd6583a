/**
 * Hostile HTTP against the real `serve` process (issue 8, items 1–5): the behaviour lives in
 * Bun's native router and socket handling, which `app.handle` never reaches.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServe, type Running } from "./run.ts";
import { rawGet, rawRequest, sendTruncatedBody, type RawResponse } from "../helpers/raw-http.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const CHEAP = "  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }\n";
const APP = "https://app.example.com";
const EVIL = "https://evil.example";

let dir = "";
let server: Running;
let adminKey = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-hostile-"));
  writeFileSync(
    join(dir, "acc.yaml"),
    `id: acc\ntables:\n  users:\n    auth_table: true\n    columns: {}\ncors:\n  allowed_origins: ["${APP}"]\nauth:\n${CHEAP}` +
      "  rate_limits: { signup_per_ip: { max: 1, window: 1h } }\n",
  );
  writeFileSync(join(dir, "open.yaml"), `id: open\ntables:\n  users:\n    auth_table: true\n    columns: {}\nauth:\n${CHEAP}`);
  server = await startServe([BUN, MAIN, "serve", "--config", dir, "--data", join(dir, "data"), "--port", "0", "--log-level", "debug"]);
  adminKey = /project acc: admin key (sk_\S+)/.exec(server.stdout())![1];
}, 30_000);

afterAll(() => {
  server?.proc.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function expectEnvelope(r: RawResponse, status: number, code: string): void {
  expect(r.status).toBe(status);
  expect(r.headers["content-type"]).toContain("application/json");
  expect(r.headers["x-content-type-options"]).toBe("nosniff");
  expect(r.json?.error?.code).toBe(code);
  expect(r.json.error.request_id).toBe(r.headers["x-request-id"]);
}

/** Every log line on stdout is one JSON object (the once-only key line aside). */
function expectJsonLog(stdout: string): void {
  for (const line of stdout.split("\n")) {
    if (line === "" || /^project \S+: admin key sk_/.test(line)) continue;
    expect(() => JSON.parse(line)).not.toThrow();
  }
}

describe("CORS follows the project that serves the request (item 1)", () => {
  it("refuses a %-encoded project id instead of serving it with the default CORS", async () => {
    const r = await rawGet(server.url, "/p/%61cc/auth/me", { origin: EVIL });
    expectEnvelope(r, 404, "PROJECT_NOT_FOUND");
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    const upper = await rawGet(server.url, "/p/%61%63%63/v1/redirect-origins", { origin: EVIL, "x-admin-key": adminKey });
    expectEnvelope(upper, 404, "PROJECT_NOT_FOUND");
    expect(upper.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("answers a preflight on a %-encoded project id without allowing the origin", async () => {
    const { host } = new URL(server.url);
    const r = await rawRequest(server.url, `OPTIONS /p/%61cc/auth/login HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${EVIL}\r\nAccess-Control-Request-Method: POST`);
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("echoes a listed origin, with the exposed headers, and never allows another one", async () => {
    const ok = await rawGet(server.url, "/p/acc/auth/me", { origin: APP });
    expect(ok.headers["access-control-allow-origin"]).toBe(APP);
    expect(ok.headers["access-control-expose-headers"]).toBe("Retry-After, X-Request-Id");
    const no = await rawGet(server.url, "/p/acc/auth/me", { origin: EVIL });
    expect(no.headers["access-control-allow-origin"]).toBeUndefined();
    const open = await rawGet(server.url, "/p/open/auth/me", { origin: EVIL });
    expect(open.headers["access-control-allow-origin"]).toBe("*");
    expect(open.headers["access-control-expose-headers"]).toBe("Retry-After, X-Request-Id");
  });
});

describe("malformed %-escapes (item 2)", () => {
  for (const path of ["/p/%zz/x", "/p/%", "/p/%E0%A4%A", "/p/%zz/auth/me", "/p/acc/auth/%", "/%zz"]) {
    it(`GET ${path} answers 404 in the envelope with a request id and nosniff`, async () => {
      expectEnvelope(await rawGet(server.url, path), 404, "NOT_FOUND");
    });
  }

  it("answers a declared body of any size with the 413 envelope, not Bun's bare one", async () => {
    const { host } = new URL(server.url);
    for (const [method, length] of [["POST", 9_000_000], ["POST", 10 ** 12], ["GET", 70_000]] as const) {
      const r = await rawRequest(server.url, `${method} /p/acc/auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${length}`);
      expectEnvelope(r, 413, "PAYLOAD_TOO_LARGE");
    }
  });

  it("keeps the log one JSON object per line, with nothing on stderr", async () => {
    for (const path of ["/p/%zz/x", "/p/%", "/p/%E0%A4%A"]) await rawGet(server.url, path);
    await Bun.sleep(50);
    expectJsonLog(server.stdout());
    expect(server.stderr()).toBe("");
  });
});

describe("trailing slashes, dot segments and short Host headers (item 3)", () => {
  for (const host of ["a", "ab", "abc", "localhost"]) {
    it(`serves them with Host: ${host}, never a 405 naming the method used`, async () => {
      const h = await rawGet(server.url, "/healthz/", { host });
      expect(h.status).toBe(200);
      expect(h.json).toEqual({ data: { status: "ok" } });
      for (const path of ["/p/acc/auth/me/", "/p/acc/./auth/me", "/p/acc/auth/../auth/me", "/p/acc/auth/me/."]) {
        const r = await rawGet(server.url, path, { host });
        expectEnvelope(r, 401, "AUTH_REQUIRED");
      }
    });
  }
});

describe("a client that hangs up mid-body (item 4)", () => {
  it("is logged at debug as an aborted request, not as an error", async () => {
    const before = server.stdout().length;
    await sendTruncatedBody(server.url, "/p/acc/auth/login", 1000, '{"email":"a@example.com",');
    await sendTruncatedBody(server.url, "/p/open/auth/signup", 5000, '{"email":');
    const deadline = Date.now() + 8000;
    const aborted = (): string[] => server.stdout().slice(before).split("\n").filter((l) => l.includes("request aborted by the client"));
    while (aborted().length < 2 && Date.now() < deadline) await Bun.sleep(20);
    const lines = aborted().map((l) => JSON.parse(l));
    expect(lines.length).toBe(2);
    for (const l of lines) {
      expect(l.level).toBe("debug");
      expect(l.request_id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const newLines = server.stdout().slice(before).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(newLines.filter((l) => l.level === "error")).toEqual([]);
  }, 15_000);
});

describe("HTTP conventions of SPEC 5 (item 5)", () => {
  it("every 401 carries WWW-Authenticate", async () => {
    const none = await rawGet(server.url, "/p/acc/auth/me");
    expect(none.headers["www-authenticate"]).toBe("Bearer");
    const bad = await rawGet(server.url, "/p/acc/auth/me", { authorization: "Bearer not-a-token" });
    expectEnvelope(bad, 401, "AUTH_INVALID_TOKEN");
    expect(bad.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    const noKey = await rawGet(server.url, "/p/acc/v1/redirect-origins");
    expectEnvelope(noKey, 401, "ADMIN_KEY_REQUIRED");
    expect(noKey.headers["www-authenticate"]).toBe('Bearer realm="admin"');
    const wrongKey = await rawGet(server.url, "/p/acc/v1/redirect-origins", { "x-admin-key": "sk_wrong" });
    expectEnvelope(wrongKey, 401, "ADMIN_KEY_INVALID");
    expect(wrongKey.headers["www-authenticate"]).toBe('Bearer realm="admin", error="invalid_token"');
  });

  it("signup gives token_type and expires_in; a 429 gives retry_after in its body, readable cross-origin", async () => {
    const first = await fetch(`${server.url}/p/acc/auth/signup`, {
      method: "POST",
      headers: { origin: APP },
      body: JSON.stringify({ email: "ann@example.com", password: "correct horse battery" }),
    });
    expect(first.status).toBe(201);
    const data = ((await first.json()) as { data: Record<string, unknown> }).data;
    expect(data.token_type).toBe("Bearer");
    expect(data.expires_in).toBe(3600);
    const second = await fetch(`${server.url}/p/acc/auth/signup`, {
      method: "POST",
      headers: { origin: APP },
      body: JSON.stringify({ email: "bob@example.com", password: "correct horse battery" }),
    });
    expect(second.status).toBe(429);
    const body = (await second.json()) as { error: { code: string; retry_after: number } };
    expect(body.error.code).toBe("RATE_LIMITED");
    expect(body.error.retry_after).toBe(Number(second.headers.get("retry-after")));
    expect(body.error.retry_after).toBeGreaterThan(0);
    expect(second.headers.get("access-control-expose-headers")).toBe("Retry-After, X-Request-Id");
  });
});

describe("security events at --log-level warn (item 22)", () => {
  it("still writes every security event, admin ones with IP and request id, and the listening line", async () => {
    const quiet = await startServe([BUN, MAIN, "serve", "--config", join(dir, "open.yaml"), "--data", join(dir, "data-warn"), "--port", "0", "--log-level", "warn"]);
    try {
      const key = /project open: admin key (sk_\S+)/.exec(quiet.stdout())![1];
      const login = await fetch(`${quiet.url}/p/open/auth/login`, {
        method: "POST",
        headers: { "x-request-id": "warn-login" },
        body: JSON.stringify({ email: "nobody@example.com", password: "wrong password!" }),
      });
      expect(login.status).toBe(401);
      const rotate = await fetch(`${quiet.url}/p/open/v1/rotate-jwt-secret`, { method: "POST", headers: { "x-admin-key": key, "x-request-id": "warn-rotate" } });
      expect(rotate.status).toBe(200);
      const deadline = Date.now() + 3000;
      const parsed = (): Record<string, unknown>[] =>
        quiet.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      while (!parsed().some((l) => l.event === "jwt_secret_rotated") && Date.now() < deadline) await Bun.sleep(20);
      const lines = parsed();
      expect(lines.find((l) => l.event === "login_failed")).toMatchObject({ request_id: "warn-login", ip: "127.0.0.1" });
      expect(lines.find((l) => l.event === "jwt_secret_rotated")).toMatchObject({ request_id: "warn-rotate", ip: "127.0.0.1", project: "open" });
      // Nothing else below warn got through.
      expect(lines.filter((l) => l.level === "info" && l.event === undefined && !String(l.msg).startsWith("listening on"))).toEqual([]);
    } finally {
      quiet.proc.kill("SIGKILL");
    }
  }, 30_000);
});
