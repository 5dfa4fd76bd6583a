/**
 * Reload (SPEC 14) on PostgreSQL (SPEC 15: "reload per replica"): `serve --database` replicas
 * reload a changed project file on SIGHUP while clients keep signing up and reading /auth/me on
 * every replica. A new column is applied once (one history row) by the replica that reloads first,
 * and served by each replica once it has reloaded; a changed list of redirect origins is in force on
 * the reloaded replica at once and on the others within 1 s (the origins live in the database, in
 * the snapshot every replica refreshes); switching the signing algorithm by SIGHUP refuses the old
 * algorithm's tokens, as at a restart.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { ROOT, startServe, type Running } from "../cli/run.ts";
import { stringify } from "yaml";
import { call, logLines, waitFor, type Outcome } from "../ops/helpers.ts";
import { CHEAP_HASHER } from "../helpers/instance.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";
import { projectSchemaName } from "../../src/storage/postgres/url.ts";

const MAIN = join(ROOT, "src/main.ts");
const SERVER_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 13 + 1) % 256)).toString("base64");
const PASSWORD = "correct horse battery staple";
const PUBLIC_URL = "http://127.0.0.1:9";
const SCHEMA = projectSchemaName("alpha");

let dir = "";
let database: TestDatabase | null = null;
let replicas: Running[] = [];

afterEach(async () => {
  for (const r of replicas) if (r.proc.exitCode === null) r.proc.kill("SIGTERM");
  await Promise.all(replicas.map((r) => r.proc.exited));
  replicas = [];
  await database?.drop();
  database = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

const configPath = (): string => join(dir, "alpha.yaml");

/** Project alpha: an auth table with the given extra columns, cheap hashing, no rate limit in the way. */
function alphaYaml(opts: { columns?: Record<string, string>; origins?: string[]; signing?: Record<string, unknown> } = {}): string {
  return stringify({
    id: "alpha",
    ...(opts.origins ? { allowed_redirect_origins: opts.origins } : {}),
    tables: { users: { auth_table: true, columns: { nick: "string max_length 40", ...opts.columns } } },
    auth: {
      hasher: CHEAP_HASHER,
      ...(opts.signing ? { signing: opts.signing } : {}),
      rate_limits: { signup_per_ip: "off", login_per_ip: "off", login_failures_per_account: "off", forgot_password_per_ip: "off" },
    },
    mail: { provider: "console", from: "Ops <ops@localhost>" },
  });
}

/** Polls an asynchronous condition until it holds. */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

async function startReplicas(n: number): Promise<Running[]> {
  const started = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      startServe([process.execPath, MAIN, "serve", "--config", configPath(), "--data", join(dir, `data${i}`), "--host", "127.0.0.1", "--port", "0", "--public-url", PUBLIC_URL, "--database", database!.url], {
        env: { LATCHKEY_SERVER_KEY: SERVER_KEY },
        timeoutMs: 90_000,
      }),
    ),
  );
  for (const r of started) await until(`replica ${r.url} ready`, async () => (await fetch(`${r.url}/readyz`)).status === 200, 60_000);
  return started;
}

const reloadLines = (r: Running): Record<string, any>[] => logLines(r.stdout()).filter((l) => typeof l.msg === "string" && l.msg.startsWith("configuration reload"));

async function hangUp(r: Running): Promise<Record<string, any>> {
  const before = reloadLines(r).length;
  r.proc.kill("SIGHUP");
  return waitFor("the reload's log line", () => reloadLines(r)[before], 30_000);
}

async function forgot(base: string, redirect: string): Promise<number | null> {
  return (await call(base, "POST", "/p/alpha/auth/forgot-password", { body: { email: "nobody@example.com", redirect_url: redirect } })).status;
}

const pgSkip = PG_SKIP_REASON !== null;

describe.skipIf(pgSkip)("SIGHUP reload on `serve --database` replicas", () => {
  it("a new column and changed origins: applied once, served by each replica after its reload, every request answered meanwhile", async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-pg-reload-"));
    database = await createTestDatabase();
    writeFileSync(configPath(), alphaYaml({ origins: ["https://old.example.com"] }));
    replicas = await startReplicas(2);
    const [a, b] = replicas as [Running, Running];

    // Load on both replicas for the whole test.
    const outcomes: Outcome[] = [];
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const base = [a, b][(w + i) % 2]!.url;
        const s = await call(base, "POST", "/p/alpha/auth/signup", { body: { email: `load-${w}-${i}@example.com`, password: PASSWORD } });
        outcomes.push({ what: "signup", status: s.status, error: s.error });
        if (s.status !== 201) continue;
        const me = await call([a, b][(w + i + 1) % 2]!.url, "GET", "/p/alpha/auth/me", { token: s.body.data.token });
        outcomes.push({ what: "me", status: me.status, error: me.error });
      }
    };
    const workers = [0, 1].map(worker);
    try {

    expect(await forgot(a.url, "https://new.example.com/reset")).toBe(400);
    writeFileSync(configPath(), alphaYaml({ columns: { age: "int" }, origins: ["https://new.example.com"] }));
    const line = await hangUp(a);
    expect(line.msg).toBe("configuration reloaded");
    expect(line.changed).toEqual(["alpha"]);

    // Replica a serves the column and the new origins at once.
    const s = await call(a.url, "POST", "/p/alpha/auth/signup", { body: { email: "aged@example.com", password: PASSWORD, age: 41 } });
    expect(s.status).toBe(201);
    expect(s.body.data.user.age).toBe(41);
    expect(await forgot(a.url, "https://new.example.com/reset")).toBe(200);
    expect(await forgot(a.url, "https://old.example.com/reset")).toBe(400);
    // Replica b has not reloaded: it keeps its configuration (no `age` in what it shows), keeps
    // serving, and reads the user replica a wrote; the origins, kept in the database, reach it within 1 s.
    const at = Date.now();
    await until("replica b to take the new origins", async () => (await forgot(b.url, "https://new.example.com/reset")) === 200, 5_000);
    expect(Date.now() - at).toBeLessThanOrEqual(1_000);
    expect(await forgot(b.url, "https://old.example.com/reset")).toBe(400);
    const meOnB = await call(b.url, "GET", "/p/alpha/auth/me", { token: s.body.data.token });
    expect(meOnB.status).toBe(200);
    expect(meOnB.body.data.user).not.toHaveProperty("age");

    const lineB = await hangUp(b);
    expect(lineB.msg).toBe("configuration reloaded");
    const meAfter = await call(b.url, "GET", "/p/alpha/auth/me", { token: s.body.data.token });
    expect(meAfter.body.data.user.age).toBe(41);
    const history = await database.sql.unsafe(`SELECT count(*)::int AS n FROM "${SCHEMA}"._schema_history WHERE table_name = 'users' AND column_name = 'age'`);
    expect(history[0].n).toBe(1);

    await waitFor("requests after the reloads", () => outcomes.length >= 20, 10_000);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    // A 500 is logged with its cause: compare those first, so a failure names it.
    for (const r of [a, b]) expect(logLines(r.stdout()).filter((l) => l.level === "error").map((l) => `${l.msg}: ${l.error?.message}`)).toEqual([]);
    expect(outcomes.filter((o) => o.status === null || o.status >= 300)).toEqual([]);
    expect(outcomes.filter((o) => o.what === "me").length).toBeGreaterThan(5);
    for (const r of replicas) expect(r.proc.exitCode).toBeNull();
  }, 120_000);

  it("switching the signing algorithm by SIGHUP: the old algorithm's tokens are refused, the new one signs and is published", async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-pg-reload-"));
    database = await createTestDatabase();
    writeFileSync(configPath(), alphaYaml());
    replicas = await startReplicas(1);
    const [a] = replicas as [Running];
    const s = await call(a.url, "POST", "/p/alpha/auth/signup", { body: { email: "switch@example.com", password: PASSWORD } });
    expect(s.status).toBe(201);
    expect(decodeProtectedHeader(s.body.data.token).alg).toBe("HS256");

    writeFileSync(configPath(), alphaYaml({ signing: { algorithm: "EdDSA" } }));
    const line = await hangUp(a);
    expect(line.msg).toBe("configuration reloaded");
    expect(logLines(a.stdout()).some((l) => l.event === "signing_algorithm_changed" && l.from === "HS256" && l.to === "EdDSA")).toBe(true);
    expect((await call(a.url, "GET", "/p/alpha/auth/me", { token: s.body.data.token })).status).toBe(401);
    const r = await call(a.url, "POST", "/p/alpha/auth/refresh", { body: { refresh_token: s.body.data.refresh_token } });
    expect(r.status).toBe(200);
    const header = decodeProtectedHeader(r.body.data.token);
    expect(header.alg).toBe("EdDSA");
    expect((await call(a.url, "GET", "/p/alpha/auth/me", { token: r.body.data.token })).status).toBe(200);
    const jwks = await call(a.url, "GET", "/p/alpha/.well-known/jwks.json");
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([header.kid]);
  }, 120_000);
});
