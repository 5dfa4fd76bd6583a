/**
 * A real nginx (Debian's package; `.ci/run` installs it) in front of a tiny upstream app, asking
 * Latchkey's /auth/forward through `auth_request` before every request. The test starts its own
 * nginx with its own prefix and config in a temp dir, on a loopback port — never the system service.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server, Subprocess } from "bun";
import { projectYaml } from "../helpers/instance.ts";
import { authSpec, PASSWORD } from "../helpers/auth.ts";
import { freeLoopbackPort } from "../helpers/ports.ts";
import { ROOT, startServe, type Running } from "../cli/run.ts";

function findNginx(): string {
  const found = Bun.which("nginx") ?? ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => existsSync(p));
  if (!found) throw new Error("nginx is not installed: run `apt-get install -y nginx` (.ci/run does this when it is missing)");
  return found;
}

let dir = "";
let latchkey: Running | null = null;
let upstream: Server<undefined> | null = null;
let nginx: Subprocess | null = null;
let front = "";
const seen: Headers[] = [];

beforeAll(async () => {
  const nginxBin = findNginx();
  dir = mkdtempSync(join(tmpdir(), "latchkey-nginx-"));
  const spec = authSpec({
    columns: { role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true } },
    auth: { signing: { algorithm: "EdDSA" }, token_claims: ["role"] },
  });
  writeFileSync(join(dir, "demo.yaml"), projectYaml(spec));
  const lkPort = await freeLoopbackPort();
  latchkey = await startServe([process.execPath, join(ROOT, "src/main.ts"), "serve", "--config", join(dir, "demo.yaml"), "--data", join(dir, "data"), "--port", String(lkPort)]);

  // The app behind the proxy: records what reaches it.
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      seen.push(req.headers);
      return new Response("hello from the app\n");
    },
  });

  const port = await freeLoopbackPort();
  front = `http://127.0.0.1:${port}`;
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      auth_request /_latchkey;
      auth_request_set $latchkey_user $upstream_http_x_latchkey_user_id;
      auth_request_set $latchkey_role $upstream_http_x_latchkey_claim_role;
      proxy_set_header X-Latchkey-User-Id $latchkey_user;
      proxy_set_header X-Latchkey-Claim-Role $latchkey_role;
      proxy_pass http://127.0.0.1:${upstream.port};
    }
    location /verified-only/ {
      auth_request /_latchkey_verified;
      proxy_pass http://127.0.0.1:${upstream.port};
    }
    location = /_latchkey {
      internal;
      proxy_pass http://127.0.0.1:${lkPort}/p/demo/auth/forward;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    location = /_latchkey_verified {
      internal;
      proxy_pass http://127.0.0.1:${lkPort}/p/demo/auth/forward?verified=1;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
  }
}
`);
  nginx = Bun.spawn([nginxBin, "-p", dir, "-c", conf, "-e", join(dir, "error.log")], { stdout: "ignore", stderr: "pipe" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(`${front}/`);
      break;
    } catch {
      if (nginx.exitCode !== null || Date.now() > deadline) {
        throw new Error(`nginx did not start: ${await new Response(nginx.stderr as ReadableStream).text()}`);
      }
      await Bun.sleep(50);
    }
  }
}, 60_000);

afterAll(async () => {
  nginx?.kill("SIGTERM");
  await nginx?.exited;
  latchkey?.proc.kill("SIGKILL");
  upstream?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

async function signUp(email: string): Promise<{ token: string; user: { id: string } }> {
  const r = await fetch(`${latchkey!.url}/p/demo/auth/signup`, { method: "POST", body: JSON.stringify({ email, password: PASSWORD }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { data: { token: string; user: { id: string } } }).data;
}

const through = (path: string, headers: Record<string, string> = {}) => fetch(`${front}${path}`, { headers });

describe("nginx auth_request in front of an app", () => {
  it("answers 401 without a token and never reaches the app", async () => {
    const before = seen.length;
    expect((await through("/dashboard")).status).toBe(401);
    expect((await through("/dashboard", { authorization: "Bearer not.a.token" })).status).toBe(401);
    expect(seen.length).toBe(before);
  });

  it("lets a valid token through, and the app receives X-Latchkey-User-Id and the role claim", async () => {
    const s = await signUp("nginx@example.com");
    const r = await through("/dashboard", { authorization: `Bearer ${s.token}` });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello from the app\n");
    const h = seen[seen.length - 1];
    expect(h.get("x-latchkey-user-id")).toBe(s.user.id);
    expect(h.get("x-latchkey-claim-role")).toBe("user");
  });

  it("overwrites an X-Latchkey-User-Id header sent by the client", async () => {
    const s = await signUp("spoof@example.com");
    expect((await through("/dashboard", { "x-latchkey-user-id": "someone-else" })).status).toBe(401);
    const r = await through("/dashboard", { authorization: `Bearer ${s.token}`, "x-latchkey-user-id": "someone-else" });
    expect(r.status).toBe(200);
    expect(seen[seen.length - 1].get("x-latchkey-user-id")).toBe(s.user.id);
  });

  it("answers 401 at once after logout, although the token has not expired", async () => {
    const s = await signUp("logout@example.com");
    expect((await through("/dashboard", { authorization: `Bearer ${s.token}` })).status).toBe(200);
    const out = await fetch(`${latchkey!.url}/p/demo/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${s.token}` } });
    expect(out.status).toBe(200);
    expect((await through("/dashboard", { authorization: `Bearer ${s.token}` })).status).toBe(401);
  });

  it("passes ?verified=1's 403 on for an unverified user", async () => {
    const s = await signUp("unverified@example.com");
    expect((await through("/verified-only/x", { authorization: `Bearer ${s.token}` })).status).toBe(403);
  });
});
