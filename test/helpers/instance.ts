/**
 * Builds a Latchkey app under test: project files in a temp dir, a real SQLite file per project,
 * cheap (but real) hash parameters, an injectable clock and an in-memory log.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { boot, type BootOptions, type Booted } from "../../src/boot.ts";
import { loadProjects, formatConfigIssue } from "../../src/config/load.ts";
import { BUILTIN_PLUGINS, type PluginRegistry } from "../../plugins/index.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { parseTrustedProxies, type TrustedProxies } from "../../src/http/client-ip.ts";
import { startMailSenders } from "../../src/mail/start.ts";
import type { SenderOptions } from "../../src/mail/sender.ts";
import type { PasswordHasher } from "../../src/plugin-api.ts";
import { ON_POSTGRES, pgSyncDb } from "./engine.ts";
import { sqliteDatabaseOf } from "../../src/storage/sqlite/store.ts";
import { projectSchemaName } from "../../src/storage/postgres/url.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { parseDatabaseUrl, type DatabaseChoice } from "../../src/storage/postgres/url.ts";
import { connectPostgres } from "../../src/storage/postgres/connect.ts";
import type { SQL } from "bun";
import { createMailCapture, createOutboxDriver, registryWithCapture, registryWithMailSendSpy, type MailCapture, type MailSendSpy, type OutboxDriver } from "./mail.ts";

/** Cheapest argon2id Bun accepts: real hashing, test-friendly cost. */
export const CHEAP_HASHER = { algorithm: "argon2id", options: { memory_cost: 1024, time_cost: 1 } };

export type ProjectSpec = Record<string, unknown> & { id: string };

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  token?: string;
  /** Socket peer IP for this request (default 127.0.0.1). */
  ip?: string;
}

export interface TestInstance {
  dir: string;
  /** The engine the projects run on (LATCHKEY_TEST_ENGINE, see engine.ts). */
  engine: "sqlite" | "postgres";
  /** On PostgreSQL: this instance's own database (dropped by close()); null on SQLite. */
  database: TestDatabase | null;
  dataDir: string;
  booted: Booted;
  clock: { now: number; advance(ms: number): void };
  logs: string[];
  req(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
  /** Closes every project and boots again on the same data dir (optionally with new project files). */
  restart(projects?: ProjectSpec[]): Promise<void>;
  /** Messages sent through the `capture` mail provider (`mail: { provider: capture }`). */
  mail: MailCapture;
  /** Reads / drives the outbox by hand when no background sender runs. */
  outbox: OutboxDriver;
  /** Hash work done by every project's hashers since the start (or the last `reset()`). */
  hashCalls: HashCalls;
  close(): Promise<void>;
}

/** Counts of password-hasher calls, by algorithm id (an explicit seam: BootOptions.instrumentHasher). */
export interface HashCalls {
  hash: number;
  verify: number;
  byId: Record<string, { hash: number; verify: number }>;
  reset(): void;
}

/** Told of every password-hasher call as it starts (an explicit seam instead of patching `p.hashes`). */
export interface HasherSpy {
  hash?(hasherId: string): void;
  verify?(hasherId: string): void;
}

function createHashCalls(spy: HasherSpy = {}): { calls: HashCalls; instrument: (h: PasswordHasher) => PasswordHasher; uncounted<T>(run: () => Promise<T>): Promise<T> } {
  const calls: HashCalls = {
    hash: 0,
    verify: 0,
    byId: {},
    reset() {
      calls.hash = 0;
      calls.verify = 0;
      calls.byId = {};
    },
  };
  let counting = true;
  const count = (id: string, kind: "hash" | "verify"): void => {
    if (!counting) return;
    calls[kind]++;
    calls.byId[id] ??= { hash: 0, verify: 0 };
    calls.byId[id][kind]++;
  };
  const instrument = (h: PasswordHasher): PasswordHasher => ({
    id: h.id,
    canVerify: (hash) => h.canVerify(hash),
    ...(h.needsRehash ? { needsRehash: (hash: string) => h.needsRehash?.(hash) === true } : {}),
    hash(password) {
      count(h.id, "hash");
      spy.hash?.(h.id);
      return h.hash(password);
    },
    verify(password, hash) {
      count(h.id, "verify");
      spy.verify?.(h.id);
      return h.verify(password, hash);
    },
  });
  // Work done while loading projects (PostgreSQL's loadPending makes the dummy hashes, as `serve`
  // does before it is ready; an in-process SQLite boot leaves them to first use) is not a request's.
  const uncounted = async <T>(run: () => Promise<T>): Promise<T> => {
    counting = false;
    try {
      return await run();
    } finally {
      counting = true;
    }
  };
  return { calls, instrument, uncounted };
}

/**
 * PostgreSQL pass: creating a database costs about a second, so a closed instance's database is
 * emptied (every schema of its projects dropped) and handed to the next instance of this test file.
 * The last ones are left to the throwaway cluster, which is removed with them.
 */
const freeDatabases: TestDatabase[] = [];

/**
 * Bun's client opens its whole pool on the first query, and a new PostgreSQL connection costs the
 * server a process and its caches: with the default of 10, connecting was most of the server's work
 * in the PostgreSQL pass. A test instance serves one test client, so 4 connections (still several
 * transactions at once, for the race tests) are enough; a test that needs more requests in flight
 * at once than that asks for `poolSize`. `serve` keeps its own default.
 */
const TEST_POOL_SIZE = 4;

function poolUrl(databaseUrl: string, size = TEST_POOL_SIZE): string {
  const u = new URL(databaseUrl);
  u.searchParams.set("max", String(size));
  return u.href;
}

async function takeDatabase(): Promise<TestDatabase> {
  return freeDatabases.pop() ?? (await createTestDatabase());
}

async function giveBackDatabase(db: TestDatabase): Promise<void> {
  const schemas = (await db.sql`SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%'`) as { nspname: string }[];
  for (const { nspname } of schemas) await db.sql.unsafe(`DROP SCHEMA "${nspname.replaceAll('"', '""')}" CASCADE`);
  freeDatabases.push(db);
}

/**
 * On the PostgreSQL pass a project that quietly opened on SQLite would pass every test for the wrong
 * engine: refuse it loudly instead.
 */
function assertOnPostgres(booted: Booted): void {
  for (const p of booted.projects.openRuntimes()) {
    if (p.store.engine !== "postgres") {
      throw new Error(`LATCHKEY_TEST_ENGINE=postgres, but project ${p.id} runs on ${p.store.engine}: boot() did not take the PostgreSQL database`);
    }
  }
}

export function projectYaml(spec: ProjectSpec): string {
  const withHasher = structuredClone(spec) as Record<string, unknown>;
  const auth = (withHasher.auth ?? {}) as Record<string, unknown>;
  if (!auth.hasher) auth.hasher = CHEAP_HASHER;
  withHasher.auth = auth;
  return stringify(withHasher);
}

export async function createTestInstance(
  projects: ProjectSpec[],
  opts: {
    trustedProxies?: string;
    env?: Record<string, string>;
    boot?: Partial<BootOptions & { deferLoading: boolean }>;
    /** Run the real background mail senders with these options (e.g. a compressed retry schedule). */
    mailSender?: SenderOptions;
    /** The plugins to start from (default the built-ins), e.g. with plugin files loaded. */
    plugins?: PluginRegistry;
    /** Told of every hash / verify any project's hashers run (through BootOptions.instrumentHasher). */
    hasherSpy?: HasherSpy;
    /** Every project's mail provider sends through this (see MailSendSpy). */
    mailSend?: MailSendSpy;
    /** PostgreSQL pass: connections in the instance's pool (default TEST_POOL_SIZE; `serve`'s default is 10). */
    poolSize?: number;
  } = {},
): Promise<TestInstance> {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-test-"));
  const dataDir = join(dir, "data");
  const configDir = join(dir, "projects");
  mkdirSync(configDir, { recursive: true });
  // The CLI creates the data dir with the server key; boot() itself expects it to exist.
  mkdirSync(dataDir, { recursive: true });
  const clock = { now: Date.UTC(2026, 0, 15, 12, 0, 0), advance(ms: number) { clock.now += ms; } };
  const logger = createMemoryLogger("debug");
  const serverKey = new Uint8Array(32).fill(42);
  const mail = createMailCapture();
  const hashCounter = createHashCalls(opts.hasherSpy);
  const withCapture = registryWithCapture(opts.plugins ?? BUILTIN_PLUGINS, mail);
  const registry = opts.mailSend ? registryWithMailSendSpy(withCapture, opts.mailSend) : withCapture;
  let trusted: TrustedProxies | undefined;
  if (opts.trustedProxies) {
    const t = parseTrustedProxies(opts.trustedProxies);
    if (typeof t === "string") throw new Error(t);
    trusted = t;
  }

  // LATCHKEY_TEST_ENGINE=postgres: every instance gets a fresh PostgreSQL database of its own.
  const database = ON_POSTGRES ? await takeDatabase() : null;
  // One pool per boot (as `serve` has one per server), closed with it.
  let pool: SQL | null = null;

  const writeProjects = (specs: ProjectSpec[]): void => {
    rmSync(configDir, { recursive: true, force: true });
    mkdirSync(configDir, { recursive: true });
    for (const s of specs) writeFileSync(join(configDir, `${s.id}.yaml`), projectYaml(s));
  };
  const start = async (): Promise<Booted> => {
    const { projects: configs, issues } = loadProjects([configDir], { env: opts.env ?? {}, registry });
    if (issues.length) throw new Error(issues.map(formatConfigIssue).join("\n"));
    const booted = boot({
      configs,
      dataDir,
      publicUrl: "http://127.0.0.1:8080",
      serverKey,
      registry,
      log: logger,
      now: () => clock.now,
      trustedProxies: trusted,
      peerIp: (r) => r.headers.get("x-test-peer-ip") ?? "127.0.0.1",
      startMail: false,
      instrumentHasher: hashCounter.instrument,
      ...(database ? { postgres: (pool = connectPostgres(parseDatabaseUrl(poolUrl(database.url, opts.poolSize)) as Extract<DatabaseChoice, { engine: "postgres" }>)) } : {}),
      ...opts.boot,
    });
    if (database && !opts.boot?.deferLoading) {
      await hashCounter.uncounted(() => booted.loadPending()); // projects on PostgreSQL load asynchronously
      assertOnPostgres(booted);
    }
    if (opts.mailSender) startMailSenders([...booted.projects.values()], opts.mailSender);
    return booted;
  };

  writeProjects(projects);
  const inst: TestInstance = {
    dir,
    engine: database ? "postgres" : "sqlite",
    database,
    dataDir,
    booted: await start(),
    clock,
    logs: logger.lines,
    mail,
    hashCalls: hashCounter.calls,
    outbox: createOutboxDriver(
      () => inst.booted.projects,
      (p) => (database ? pgSyncDb(database.url, projectSchemaName(p.id)) : sqliteDatabaseOf(p.store)),
    ),
    async req(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      if (o.ip) headers["x-test-peer-ip"] = o.ip;
      let body: string | undefined;
      if (o.rawBody !== undefined) body = o.rawBody;
      else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] ??= "application/json";
      }
      // Real clients send Content-Length; Request objects built from a string do not set it.
      if (body !== undefined) headers["content-length"] ??= String(Buffer.byteLength(body));
      const res = await inst.booted.app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
      if (database) assertOnPostgres(inst.booted);
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: res.status, headers: res.headers, text, body: parsed };
    },
    async restart(specs) {
      await inst.booted.close();
      await pool?.close({ timeout: 5 });
      if (specs) writeProjects(specs);
      inst.booted = await start();
    },
    async close() {
      await inst.booted.close();
      await pool?.close({ timeout: 5 });
      rmSync(dir, { recursive: true, force: true });
      if (database) await giveBackDatabase(database);
    },
  };
  return inst;
}
