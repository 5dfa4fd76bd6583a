/**
 * EdDSA signing (SPEC 13) across replicas on one PostgreSQL (SPEC 15):
 * - three `latchkey serve --database postgres://...` processes: a token signed by one replica is
 *   accepted by the others and verifies with jose against each replica's JWKS; the emergency switch
 *   (rotate-jwt-secret) on one replica is in force on the others within 1 s: the old key is refused
 *   and no longer published, the new one signs, is accepted and is published everywhere;
 * - three in-process replicas on one database sharing an injected clock: the scheduled rotation,
 *   advanced by all three at the same moment, gets exactly one successor per period, published by
 *   every replica before it signs, and a token one replica signs with it verifies on the others.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { ROOT, startServe, type Running } from "../cli/run.ts";
import { projectYaml, type ProjectSpec } from "../helpers/instance.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";
import { call } from "../ops/helpers.ts";
import { boot, type Booted } from "../../src/boot.ts";
import { loadProjects, formatConfigIssue } from "../../src/config/load.ts";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { connectPostgres } from "../../src/storage/postgres/connect.ts";
import { parseDatabaseUrl, projectSchemaName, type DatabaseChoice } from "../../src/storage/postgres/url.ts";

const MAIN = join(ROOT, "src/main.ts");
const SERVER_KEY_BYTES = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 5) % 256);
const SERVER_KEY = Buffer.from(SERVER_KEY_BYTES).toString("base64");
const ADMIN_KEY = "sk_" + "E".repeat(43);
const PASSWORD = "correct horse battery";
const PUBLIC_URL = "http://127.0.0.1:9"; // the same on every replica: tokens name one issuer
const ISSUER = `${PUBLIC_URL}/p/demo`;
const SCHEMA = projectSchemaName("demo");
const MINUTE = 60_000;

function spec(signing: Record<string, unknown>): ProjectSpec {
  return {
    id: "demo",
    keys: { admin: ADMIN_KEY },
    tables: { users: { auth_table: true } },
    auth: {
      access_token_ttl: "15m",
      signing,
      rate_limits: { signup_per_ip: "off", login_per_ip: "off", login_failures_per_account: "off" },
    },
    mail: { provider: "console", from: "Demo <no-reply@localhost>" },
  };
}

async function jwksOf(base: string): Promise<JSONWebKeySet> {
  const r = await fetch(`${base}/p/demo/.well-known/jwks.json`);
  expect(r.status).toBe(200);
  return (await r.json()) as JSONWebKeySet;
}

function verifyWith(set: JSONWebKeySet, token: string, nowMs = Date.now()) {
  return jwtVerify(token, createLocalJWKSet(set), { issuer: ISSUER, audience: "demo", algorithms: ["EdDSA"], currentDate: new Date(nowMs) });
}

const pgSkip = PG_SKIP_REASON !== null;

describe.skipIf(pgSkip)("EdDSA on three `serve --database` replicas", () => {
  let dir = "";
  let database: TestDatabase;
  let replicas: Running[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-replica-signing-"));
    database = await createTestDatabase();
    writeFileSync(join(dir, "demo.yaml"), projectYaml(spec({ algorithm: "EdDSA" })));
    replicas = await Promise.all(
      [0, 1, 2].map((i) =>
        startServe([process.execPath, MAIN, "serve", "--config", join(dir, "demo.yaml"), "--data", join(dir, `data${i}`), "--host", "127.0.0.1", "--port", "0", "--public-url", PUBLIC_URL, "--database", database.url], {
          env: { LATCHKEY_SERVER_KEY: SERVER_KEY },
          timeoutMs: 90_000,
        }),
      ),
    );
    for (const r of replicas) {
      const deadline = Date.now() + 60_000;
      while ((await fetch(`${r.url}/readyz`)).status !== 200) {
        if (Date.now() > deadline) throw new Error(`replica ${r.url} not ready:\n${r.stderr()}`);
        await Bun.sleep(50);
      }
    }
  }, 180_000);

  afterAll(async () => {
    for (const r of replicas) if (r.proc.exitCode === null) r.proc.kill("SIGKILL");
    await Promise.all(replicas.map((r) => r.proc.exited));
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a token signed by one replica is accepted by the others and verifies against every replica's JWKS", async () => {
    const s = await call(replicas[0]!.url, "POST", "/p/demo/auth/signup", { body: { email: "ed@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
    const token = s.body.data.token as string;
    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe("EdDSA");
    const sets = await Promise.all(replicas.map((r) => jwksOf(r.url)));
    for (const set of sets) {
      expect(set).toEqual(sets[0]!);
      expect(set.keys.map((k) => k.kid)).toEqual([header.kid!]);
      const { payload } = await verifyWith(set, token);
      expect(payload.sub).toBe(s.body.data.user.id);
    }
    for (const r of replicas.slice(1)) expect((await call(r.url, "GET", "/p/demo/auth/me", { token })).status).toBe(200);
    // Tokens signed by the others verify on the first, too: one key pair for the whole project.
    const login = await call(replicas[2]!.url, "POST", "/p/demo/auth/login", { body: { email: "ed@example.org", password: PASSWORD } });
    expect(login.status).toBe(200);
    expect(decodeProtectedHeader(login.body.data.token).kid).toBe(header.kid!);
    expect((await call(replicas[0]!.url, "GET", "/p/demo/auth/me", { token: login.body.data.token })).status).toBe(200);
    // Only one key pair was created although three replicas booted the new project at once.
    const keys = await database.sql.unsafe(`SELECT alg FROM "${SCHEMA}"._signing_keys`);
    expect(keys.map((k: { alg: string }) => k.alg)).toEqual(["EdDSA"]);
  }, 60_000);

  it("rotate-jwt-secret on one replica: within 1 s the others refuse the old key, publish only the new one, and accept its tokens", async () => {
    const s = await call(replicas[1]!.url, "POST", "/p/demo/auth/signup", { body: { email: "rot@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
    const oldToken = s.body.data.token as string;
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    for (const r of replicas) expect((await call(r.url, "GET", "/p/demo/auth/me", { token: oldToken })).status).toBe(200);

    const rotated = await fetch(`${replicas[0]!.url}/p/demo/v1/rotate-jwt-secret`, { method: "POST", headers: { "x-admin-key": ADMIN_KEY } });
    const at = Date.now();
    expect(rotated.status).toBe(200);
    // On the replica that rotated, in force before the 200.
    expect((await call(replicas[0]!.url, "GET", "/p/demo/auth/me", { token: oldToken })).status).toBe(401);
    const fresh = await call(replicas[0]!.url, "POST", "/p/demo/auth/login", { body: { email: "rot@example.org", password: PASSWORD } });
    expect(fresh.status).toBe(200);
    const newToken = fresh.body.data.token as string;
    const newKid = decodeProtectedHeader(newToken).kid!;
    expect(newKid).not.toBe(oldKid);

    // Every other replica: old token 401, JWKS = [new kid], new token 200 — all within 1 s of the 200.
    const pending = new Set(replicas.slice(1).map((r) => r.url));
    const doneAfter = new Map<string, number>();
    while (pending.size > 0) {
      for (const base of [...pending]) {
        const [old, set, now] = await Promise.all([
          call(base, "GET", "/p/demo/auth/me", { token: oldToken }),
          jwksOf(base),
          call(base, "GET", "/p/demo/auth/me", { token: newToken }),
        ]);
        const kids = set.keys.map((k) => k.kid);
        if (old.status === 401 && now.status === 200 && kids.length === 1 && kids[0] === newKid) {
          pending.delete(base);
          doneAfter.set(base, Date.now() - at);
        }
      }
      if (Date.now() - at > 5_000) throw new Error(`replicas ${[...pending].join(", ")} still use the old key 5 s after the rotation`);
      if (pending.size > 0) await Bun.sleep(20);
    }
    console.log(`EdDSA rotate-jwt-secret: in force on the other replicas after ${[...doneAfter.values()].join(" and ")} ms`);
    for (const ms of doneAfter.values()) expect(ms).toBeLessThanOrEqual(1_000);

    // jose: the new token verifies with every replica's JWKS, the old one with none.
    for (const r of replicas) {
      const set = await jwksOf(r.url);
      await verifyWith(set, newToken);
      await expect(verifyWith(set, oldToken)).rejects.toThrow();
    }
  }, 60_000);
});

/** One in-process replica: `boot()` on its own pool of the shared database, with the shared clock. */
interface Replica {
  readonly booted: Booted;
  readonly pool: SQL;
  readonly logs: string[];
  req(method: string, path: string, o?: { body?: unknown; token?: string }): Promise<{ status: number; body: any }>;
}

describe.skipIf(pgSkip)("scheduled rotation advanced by three replicas at once (in process, one clock)", () => {
  const clock = { now: Date.UTC(2026, 0, 15, 12, 0, 0) };
  let dir = "";
  let database: TestDatabase;
  const replicas: Replica[] = [];

  async function startReplica(configDir: string): Promise<Replica> {
    const { projects, issues } = loadProjects([configDir], { env: {}, registry: BUILTIN_PLUGINS });
    if (issues.length) throw new Error(issues.map(formatConfigIssue).join("\n"));
    const logger = createMemoryLogger("debug");
    const pool = connectPostgres(parseDatabaseUrl(database.url) as Extract<DatabaseChoice, { engine: "postgres" }>);
    const dataDir = mkdtempSync(join(dir, "data-"));
    const booted = boot({
      configs: projects,
      dataDir,
      publicUrl: PUBLIC_URL,
      serverKey: SERVER_KEY_BYTES,
      registry: BUILTIN_PLUGINS,
      log: logger,
      now: () => clock.now,
      peerIp: () => "127.0.0.1",
      startMail: false,
      postgres: pool,
    });
    await booted.loadPending();
    return {
      booted,
      pool,
      logs: logger.lines,
      async req(method, path, o = {}) {
        const headers: Record<string, string> = {};
        if (o.token) headers.authorization = `Bearer ${o.token}`;
        if (o.body !== undefined) headers["content-type"] = "application/json";
        const res = await booted.app.handle(new Request(`http://localhost${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) }));
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
      },
    };
  }

  const jwks = async (r: Replica): Promise<string[]> => ((await r.req("GET", "/p/demo/.well-known/jwks.json")).body as JSONWebKeySet).keys.map((k) => k.kid!);
  const stored = async (): Promise<{ kid: string; signs_from: number; signs_until: number | null }[]> =>
    ((await database.sql.unsafe(`SELECT kid, signs_from, signs_until FROM "${SCHEMA}"._signing_keys ORDER BY signs_from`)) as { kid: string; signs_from: unknown; signs_until: unknown }[]).map((r) => ({
      kid: r.kid,
      signs_from: Number(r.signs_from),
      signs_until: r.signs_until === null ? null : Number(r.signs_until),
    }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-replica-schedule-"));
    database = await createTestDatabase();
    const configDir = join(dir, "projects");
    mkdirSync(configDir);
    writeFileSync(join(configDir, "demo.yaml"), projectYaml(spec({ algorithm: "EdDSA", rotate_every: "1h" })));
    replicas.push(...(await Promise.all([0, 1, 2].map(() => startReplica(configDir)))));
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas.splice(0)) {
      await r.booted.close();
      await r.pool.close({ timeout: 5 });
    }
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("one successor per period whatever the replicas do at once; published everywhere before it signs; its tokens verify everywhere", async () => {
    const start = clock.now;
    const LEAD_MS = (15 + 5) * MINUTE; // access_token_ttl + the 5-minute JWKS cache time
    const s = await replicas[0]!.req("POST", "/p/demo/auth/signup", { body: { email: "sched@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
    let refresh = s.body.data.refresh_token as string;
    const [first] = await stored();
    expect(await stored()).toHaveLength(1);

    let previousKid = first!.kid;
    for (let period = 1; period <= 3; period++) {
      // The successor is due: all three replicas look at the schedule at the same moment.
      clock.now = start + period * 60 * MINUTE - LEAD_MS;
      const sets = await Promise.all(replicas.map((r) => jwks(r)));
      const keys = await stored();
      const live = keys.filter((k) => k.signs_until === null);
      expect(live).toHaveLength(1); // exactly one newest key: one successor, never two
      const successor = live[0]!;
      expect(successor.kid).not.toBe(previousKid);
      expect(successor.signs_from).toBe(start + period * 60 * MINUTE);
      for (const set of sets) expect(set).toContain(successor.kid);
      for (const set of sets) expect(set).toContain(previousKid);

      // Not signing yet, on any replica.
      clock.now = successor.signs_from - 1000;
      for (const r of replicas) {
        const t = await r.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refresh } });
        expect(t.status).toBe(200);
        refresh = t.body.data.refresh_token;
        expect(decodeProtectedHeader(t.body.data.token).kid).toBe(previousKid);
      }
      // From its moment on, each replica signs with it and the others accept the token.
      clock.now = successor.signs_from;
      for (const [i, r] of replicas.entries()) {
        const t = await r.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refresh } });
        expect(t.status).toBe(200);
        refresh = t.body.data.refresh_token;
        const token = t.body.data.token as string;
        expect(decodeProtectedHeader(token).kid).toBe(successor.kid);
        for (const other of replicas.filter((_, j) => j !== i)) expect((await other.req("GET", "/p/demo/auth/me", { token })).status).toBe(200);
        const set = (await replicas[(i + 1) % 3]!.req("GET", "/p/demo/.well-known/jwks.json")).body as JSONWebKeySet;
        await verifyWith(set, token, clock.now);
      }
      previousKid = successor.kid;
    }
    // Retired keys leave once their last token expired: at most the signing key and its predecessor remain.
    clock.now += 60 * MINUTE - LEAD_MS - MINUTE; // before the next successor is due
    await Promise.all(replicas.map((r) => jwks(r)));
    const remaining = await stored();
    expect(remaining.map((k) => k.kid)).toEqual([previousKid]);
    for (const r of replicas) expect(await jwks(r)).toEqual([previousKid]);
    for (const r of replicas) expect(r.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  }, 60_000);

  it("a successor scheduled by one replica is published by the others within 1 s, before their own clock reaches the due moment", async () => {
    const [newest] = (await stored()).filter((k) => k.signs_until === null);
    const due = newest!.signs_from + 60 * MINUTE - 20 * MINUTE;
    clock.now = due;
    const [first, ...others] = replicas;
    const set0 = await jwks(first!);
    const successor = (await stored()).find((k) => k.signs_until === null)!;
    expect(successor.kid).not.toBe(newest!.kid);
    expect(set0).toContain(successor.kid);
    // The others' clock is a second short of the due moment: they schedule nothing themselves, and
    // learn of the successor only from the database (their snapshot, reread when the version moves).
    clock.now = due - 1000;
    const at = Date.now();
    for (const r of others) {
      while (!(await jwks(r)).includes(successor.kid)) {
        if (Date.now() - at > 5_000) throw new Error("a replica does not publish the successor 5 s after another scheduled it");
        await Bun.sleep(20);
      }
    }
    const after = Date.now() - at;
    console.log(`scheduled successor published by the other replicas after ${after} ms`);
    expect(after).toBeLessThanOrEqual(1_000);
    // It does not sign before its moment anywhere, and signs everywhere from then on.
    for (const r of replicas) expect(await jwks(r)).toEqual(set0);
  }, 60_000);

  it("a replica that cannot reach the database at a due moment still answers its JWKS, and the others schedule one successor", async () => {
    const configDir = join(dir, "projects");
    const cut = await startReplica(configDir);
    try {
      const before = await jwks(cut);
      expect(before).toEqual(await jwks(replicas[0]!));
      const [newest] = (await stored()).filter((k) => k.signs_until === null);
      await cut.pool.close({ timeout: 1 }); // this replica's database is gone
      clock.now = newest!.signs_from + 60 * MINUTE - 20 * MINUTE; // the successor is due
      const r = await cut.req("GET", "/p/demo/.well-known/jwks.json");
      expect(r.status).toBe(200);
      // The keys it holds that still verify: the one signing now (no successor: it could not store one).
      expect((r.body as JSONWebKeySet).keys.map((k) => k.kid)).toEqual([newest!.kid]);
      // The replicas that reach the database schedule the successor, once.
      await Promise.all(replicas.map((x) => jwks(x)));
      expect((await stored()).filter((k) => k.signs_until === null)).toHaveLength(1);
      expect(await stored()).toHaveLength(2);
    } finally {
      await cut.booted.close();
    }
  }, 60_000);
});
