/**
 * `serve --database postgres://...` end to end (SPEC 15), through real processes and real HTTP on
 * 127.0.0.1 against a real PostgreSQL: the main flows on one replica (nothing written to the data
 * dir), a JWT-secret rotation and a public-key rotation on one replica refused by another within
 * 1 s (measured from the 200), generated keys printed by exactly one of three replicas booting a
 * new project at once, `keys rotate --database`, and the database going away behind a TCP proxy
 * we cut: 503 with Retry-After, /readyz 503, /healthz 200, and service back by itself.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli, startServe, type Running } from "../cli/run.ts";
import { freeLoopbackPort } from "../helpers/ports.ts";
import { startSmtpSink, type SmtpSink } from "../mail/smtp-sink.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const SERVER_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 1)).toString("base64");
const PASSWORD = "correct horse battery staple";
const PUBLIC_URL = "http://127.0.0.1:9"; // the same on every replica: tokens name one issuer

const PROJECT = `id: demo-app
tables:
  users:
    auth_table: true
    columns:
      display_name: text
auth:
  require_public_key: true
  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }
`;

let dir = "";
let database: TestDatabase | null = null;
const running: Running[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.proc.exited;
  }
  for (const c of cleanups.splice(0)) await c();
  await database?.drop();
  database = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

async function setup(project = PROJECT): Promise<{ config: string; data: string; url: string }> {
  dir = mkdtempSync(join(tmpdir(), "latchkey-pgserve-"));
  writeFileSync(join(dir, "demo-app.yaml"), project);
  database = await createTestDatabase();
  return { config: join(dir, "demo-app.yaml"), data: join(dir, "data"), url: database.url };
}

async function replica(s: { config: string; data: string }, url: string): Promise<Running> {
  const r = await startServe(
    [BUN, MAIN, "serve", "--config", s.config, "--data", s.data, "--host", "127.0.0.1", "--port", "0", "--public-url", PUBLIC_URL, "--database", url],
    { env: { LATCHKEY_SERVER_KEY: SERVER_KEY }, timeoutMs: 60_000 },
  );
  running.push(r);
  return r;
}

/** The keys a replica printed at boot (`project demo-app: admin key sk_... public key pk_...`). */
function printedKeys(r: Running): { admin: string; public: string } | null {
  const m = /project demo-app: admin key (sk_\S+) public key (pk_\S+)/.exec(r.stdout());
  return m ? { admin: m[1]!, public: m[2]! } : null;
}

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(r: Running, method: string, path: string, opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(`${r.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Polls `check` until it is true; returns the milliseconds it took (fails after `limitMs`). */
async function msUntil(what: string, check: () => Promise<boolean>, limitMs = 5_000): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms: ${what}`);
    await Bun.sleep(20);
  }
  return performance.now() - t0;
}

describe.skipIf(PG_SKIP_REASON !== null)("serve --database postgres://", () => {
  it("boots, prints the generated keys, and serves signup, login, me, refresh and logout; nothing is written to the data dir", async () => {
    const s = await setup();
    const a = await replica(s, s.url);
    const keys = printedKeys(a);
    expect(keys).not.toBeNull();
    const pk = { "x-public-key": keys!.public };
    expect((await call(a, "GET", "/readyz")).status).toBe(200);
    // The public key is required and checked.
    expect((await call(a, "POST", "/p/demo-app/auth/signup", { body: { email: "a@example.com", password: PASSWORD } })).body.error.code).toBe("PUBLIC_KEY_REQUIRED");
    const signup = await call(a, "POST", "/p/demo-app/auth/signup", { body: { email: "alice@example.com", password: PASSWORD, display_name: "Alice" }, headers: pk });
    expect(signup.status).toBe(201);
    const dup = await call(a, "POST", "/p/demo-app/auth/signup", { body: { email: "Alice@Example.com", password: PASSWORD }, headers: pk });
    expect(dup.status).toBe(409);
    const wrong = await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "alice@example.com", password: "not the password" }, headers: pk });
    expect(wrong.status).toBe(401);
    const login = await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "alice@example.com", password: PASSWORD }, headers: pk });
    expect(login.status).toBe(200);
    const me = await call(a, "GET", "/p/demo-app/auth/me", { token: login.body.data.token, headers: pk });
    expect(me.status).toBe(200);
    expect(me.body.data.user.email).toBe("alice@example.com");
    expect(me.body.data.user.display_name).toBe("Alice");
    const refreshed = await call(a, "POST", "/p/demo-app/auth/refresh", { body: { refresh_token: login.body.data.refresh_token }, headers: pk });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.data.refresh_token).not.toBe(login.body.data.refresh_token);
    const logout = await call(a, "POST", "/p/demo-app/auth/logout", { token: refreshed.body.data.token, body: {}, headers: pk });
    expect(logout.status).toBeLessThan(300);
    const after = await call(a, "POST", "/p/demo-app/auth/refresh", { body: { refresh_token: refreshed.body.data.refresh_token }, headers: pk });
    expect(after.status).toBe(401);
    // The data in PostgreSQL, in the project's schema; the data dir holds nothing.
    const [row] = (await database!.sql`SELECT count(*)::int AS n FROM latchkey_demo_app.users`) as { n: number }[];
    expect(row!.n).toBe(1);
    expect(existsSync(s.data) ? readdirSync(s.data) : []).toEqual([]);
  }, 90_000);

  it("two replicas: a token of one is accepted by the other; a JWT-secret rotation and a public-key rotation on one are refused by the other within 1 s", async () => {
    const s = await setup();
    const a = await replica(s, s.url);
    const b = await replica(s, s.url);
    const keys = printedKeys(a);
    expect(keys).not.toBeNull();
    expect(printedKeys(b)).toBeNull(); // B found the keys A created
    const pk = { "x-public-key": keys!.public };
    const admin = { "x-admin-key": keys!.admin };
    expect((await call(a, "POST", "/p/demo-app/auth/signup", { body: { email: "bob@example.com", password: PASSWORD }, headers: pk })).status).toBe(201);
    const login = await call(b, "POST", "/p/demo-app/auth/login", { body: { email: "bob@example.com", password: PASSWORD }, headers: pk });
    expect(login.status).toBe(200);
    const old = login.body.data.token as string;
    expect((await call(a, "GET", "/p/demo-app/auth/me", { token: old, headers: pk })).status).toBe(200);

    // JWT secret: rotated on A; from A's 200, B refuses the old token within 1 s and accepts a new one.
    const rotated = await call(a, "POST", "/p/demo-app/v1/rotate-jwt-secret", { body: {}, headers: admin });
    expect(rotated.status).toBe(200);
    const t0 = performance.now();
    expect((await call(a, "GET", "/p/demo-app/auth/me", { token: old, headers: pk })).status).toBe(401); // A: at once
    const fresh = await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "bob@example.com", password: PASSWORD }, headers: pk });
    expect(fresh.status).toBe(200);
    await msUntil("B refuses the old token and accepts the new one", async () =>
      (await call(b, "GET", "/p/demo-app/auth/me", { token: old, headers: pk })).status === 401 &&
      (await call(b, "GET", "/p/demo-app/auth/me", { token: fresh.body.data.token, headers: pk })).status === 200);
    const jwtMs = performance.now() - t0;
    console.log(`jwt secret rotation: refused by the other replica ${jwtMs.toFixed(0)} ms after the 200`);
    expect(jwtMs).toBeLessThan(1_000);

    // Public key: rotated on B; from B's 200, A refuses the old key within 1 s and takes the new one.
    const rk = await call(b, "POST", "/p/demo-app/v1/rotate-keys", { body: { public: true }, headers: admin });
    expect(rk.status).toBe(200);
    const t1 = performance.now();
    const newPk = { "x-public-key": rk.body.data.public_key as string };
    await msUntil("A refuses the old public key and accepts the new one", async () =>
      (await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "bob@example.com", password: PASSWORD }, headers: pk })).body?.error?.code === "PUBLIC_KEY_INVALID" &&
      (await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "bob@example.com", password: PASSWORD }, headers: newPk })).status === 200);
    const keyMs = performance.now() - t1;
    console.log(`public key rotation: refused by the other replica ${keyMs.toFixed(0)} ms after the 200`);
    expect(keyMs).toBeLessThan(1_000);
    const refused = await call(a, "GET", "/p/demo-app/auth/me", { token: fresh.body.data.token, headers: pk });
    expect(refused.body.error.code).toBe("PUBLIC_KEY_INVALID");
  }, 120_000);

  it("three replicas booting a new project at once: exactly one prints the generated keys, the schema is created once", async () => {
    const s = await setup();
    const rs = await Promise.all([replica(s, s.url), replica(s, s.url), replica(s, s.url)]);
    const printed = rs.map(printedKeys).filter((k) => k !== null);
    expect(printed.length).toBe(1);
    // Every replica serves with the keys the one printed.
    for (const r of rs) {
      const res = await call(r, "POST", "/p/demo-app/auth/login", { body: { email: "nobody@example.com", password: PASSWORD }, headers: { "x-public-key": printed[0]!.public } });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("AUTH_INVALID_CREDENTIALS");
    }
    const history = (await database!.sql`SELECT kind, table_name FROM latchkey_demo_app._schema_history`) as { kind: string; table_name: string }[];
    expect(history.filter((h) => h.table_name === "users").length).toBe(1);
  }, 120_000);

  it("keys rotate --database rotates on the database; a running replica refuses the old key within 1 s", async () => {
    const s = await setup();
    const a = await replica(s, s.url);
    const keys = printedKeys(a)!;
    const noKey = await runCli([BUN, MAIN, "keys", "rotate", "--project", "demo-app", "--public", "--database", s.url]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("LATCHKEY_SERVER_KEY");
    const missing = await runCli([BUN, MAIN, "keys", "rotate", "--project", "other-app", "--public", "--database", s.url], { env: { LATCHKEY_SERVER_KEY: SERVER_KEY } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no project other-app");
    const out = await runCli([BUN, MAIN, "keys", "rotate", "--project", "demo-app", "--public", "--database", s.url], { env: { LATCHKEY_SERVER_KEY: SERVER_KEY } });
    expect(out.code).toBe(0);
    const newKey = /public_key=(pk_\S+)/.exec(out.stdout)![1]!;
    const ms = await msUntil("the replica refuses the old public key", async () =>
      (await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "x@example.com", password: PASSWORD }, headers: { "x-public-key": keys.public } })).body?.error?.code === "PUBLIC_KEY_INVALID" &&
      (await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "x@example.com", password: PASSWORD }, headers: { "x-public-key": newKey } })).body?.error?.code === "AUTH_INVALID_CREDENTIALS");
    expect(ms).toBeLessThan(1_000);
  }, 90_000);

  it("two replicas send the verification mails of signups made on either, each once, to a real SMTP server; the admin users list reads them from PostgreSQL", async () => {
    const sink: SmtpSink = await startSmtpSink();
    cleanups.push(() => sink.close());
    const project = PROJECT.replace("    auth_table: true\n", "    auth_table: true\n    verify_email: true\n") +
      `mail:\n  provider: smtp\n  from: "Demo <no-reply@example.com>"\n  options: { url: "smtp://127.0.0.1:${sink.port}" }\n`;
    const s = await setup(project);
    const a = await replica(s, s.url);
    const b = await replica(s, s.url);
    const keys = printedKeys(a)!;
    const pk = { "x-public-key": keys.public };
    const emails = Array.from({ length: 6 }, (_, i) => `user${i}@example.com`);
    for (const [i, email] of emails.entries()) {
      const res = await call(i % 2 === 0 ? a : b, "POST", "/p/demo-app/auth/signup", { body: { email, password: PASSWORD }, headers: pk });
      expect(res.status).toBe(201);
    }
    await sink.waitFor(6, 20_000);
    await Bun.sleep(1_500); // a second delivery would arrive by now
    expect(sink.received.map((m) => m.to[0]).sort()).toEqual([...emails].sort());
    const sent = (await database!.sql`SELECT count(*)::int AS n FROM latchkey_demo_app._outbox WHERE status = 'sent'`) as { n: number }[];
    expect(sent[0]!.n).toBe(6);

    const list = await call(a, "GET", "/p/demo-app/v1/users", { headers: { "x-admin-key": keys.admin } });
    // The admin users list reads the PostgreSQL schema (src/storage/postgres/user-listing.ts).
    expect(list.status).toBe(200);
    expect(list.body.data.users.map((u: { email: string }) => u.email).sort()).toEqual([...emails].sort());
    expect(list.body.data.next_cursor).toBeNull();
  }, 120_000);

  it("database unreachable (a TCP proxy cut): 503 with Retry-After, /readyz 503, /healthz 200; service resumes by itself", async () => {
    const s = await setup();
    const target = new URL(s.url);
    const proxyPort = await freeLoopbackPort();
    const proxy = startProxy(proxyPort, target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const viaProxy = new URL(s.url);
    viaProxy.port = String(proxyPort);
    const a = await replica(s, viaProxy.href);
    const pk = { "x-public-key": printedKeys(a)!.public };
    expect((await call(a, "POST", "/p/demo-app/auth/signup", { body: { email: "carol@example.com", password: PASSWORD }, headers: pk })).status).toBe(201);

    proxy.cut();
    const down = await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "carol@example.com", password: PASSWORD }, headers: pk });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe("SERVICE_UNAVAILABLE");
    expect(Number(down.headers.get("retry-after"))).toBeGreaterThan(0);
    await msUntil("/readyz says 503", async () => (await call(a, "GET", "/readyz")).status === 503, 15_000);
    expect((await call(a, "GET", "/healthz")).status).toBe(200);

    proxy.resume();
    await msUntil("/readyz ready again", async () => (await call(a, "GET", "/readyz")).status === 200, 15_000);
    const back = await call(a, "POST", "/p/demo-app/auth/login", { body: { email: "carol@example.com", password: PASSWORD }, headers: pk });
    expect(back.status).toBe(200);
    expect(a.proc.exitCode).toBeNull();
  }, 120_000);
});

/** A TCP proxy to PostgreSQL on 127.0.0.1 that can be cut (every connection closed, new ones refused) and resumed. */
function startProxy(port: number, host: string, targetPort: number) {
  let listener: TCPSocketListener<{ peer: Socket<unknown> | null; pending: Uint8Array[] }> | null = null;
  const open = new Set<Socket<any>>();
  const listen = () => {
    listener = Bun.listen<{ peer: Socket<unknown> | null; pending: Uint8Array[] }>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(client) {
          open.add(client);
          client.data = { peer: null, pending: [] };
          void Bun.connect({
            hostname: host,
            port: targetPort,
            socket: {
              open(server) {
                open.add(server);
                client.data.peer = server;
                for (const chunk of client.data.pending) server.write(chunk);
                client.data.pending = [];
              },
              data(_server, chunk) {
                client.write(chunk);
              },
              close(server) {
                open.delete(server);
                client.end();
              },
              error() {
                client.end();
              },
            },
          }).catch(() => client.end());
        },
        data(client, chunk) {
          if (client.data.peer) client.data.peer.write(chunk);
          else client.data.pending.push(new Uint8Array(chunk));
        },
        close(client) {
          open.delete(client);
          client.data.peer?.end();
        },
      },
    });
  };
  listen();
  return {
    cut() {
      listener?.stop(true);
      listener = null;
      for (const s of open) s.end();
      open.clear();
    },
    resume: listen,
    close() {
      listener?.stop(true);
      for (const s of open) s.end();
    },
  };
}
