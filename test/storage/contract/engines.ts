/**
 * The store contract suite's two engines: each case runs against a SQLite store and a PostgreSQL
 * store of the same project (a fresh SQLite file, a fresh PostgreSQL schema per test), through the operations the services
 * call. `replicas(n)` gives n more stores of the same project, each on its own connection, as n
 * server processes would have them; `scalar`/`exec` read and write rows behind the store's back
 * (SQL with ?1, ?2 placeholders; table names unqualified).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultRandomBytes } from "../../../src/crypto/random.ts";
import { SQL } from "bun";
import { loadProjects, formatConfigIssue } from "../../../src/config/load.ts";
import type { ProjectConfig } from "../../../src/config/types.ts";
import { BUILTIN_PLUGINS } from "../../../plugins/index.ts";
import { applyPostgresSchema } from "../../../src/storage/postgres/schema.ts";
import { createPostgresStore, type PostgresStore } from "../../../src/storage/postgres/store.ts";
import { projectSchemaName } from "../../../src/storage/postgres/url.ts";
import { closeProjectDb, openProjectDb } from "../../../src/storage/sqlite/open.ts";
import { createSqliteStore } from "../../../src/storage/sqlite/store.ts";
import type { UserRow } from "../../../src/storage/users.ts";
import { authSpec, dbOf, runtimeOf } from "../../helpers/auth.ts";
import { createTestInstance, projectYaml, type ProjectSpec } from "../../helpers/instance.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../../helpers/postgres.ts";

/** The groups every engine implements, as the contract sees them. */
export type ContractStore = PostgresStore;

export interface Harness {
  readonly engine: "sqlite" | "postgres";
  readonly config: ProjectConfig;
  readonly store: ContractStore;
  replicas(n: number): Promise<ContractStore[]>;
  scalar(text: string, params?: readonly (string | number | null)[]): Promise<number>;
  exec(text: string, params?: readonly (string | number | null)[]): Promise<void>;
  close(): Promise<void>;
}

export interface Engine {
  readonly name: "sqlite" | "postgres";
  /** Why this engine's cases are skipped (PostgreSQL unavailable outside CI), or null. */
  readonly skip: string | null;
  open(spec?: ProjectSpec): Promise<Harness>;
}

const NOW_ISO = new Date(Date.UTC(2026, 0, 15, 12)).toISOString();

const sqlite: Engine = {
  name: "sqlite",
  skip: null,
  async open(spec = authSpec()) {
    const inst = await createTestInstance([spec]);
    const p = runtimeOf(inst, spec.id);
    const db = dbOf(inst, spec.id);
    const opened: ReturnType<typeof openProjectDb>[] = [];
    return {
      engine: "sqlite",
      config: p.config,
      store: p.store,
      async replicas(n) {
        return Array.from({ length: n }, () => {
          const other = openProjectDb(join(inst.dataDir, `${spec.id}.db`), { projectId: spec.id, nowIso: NOW_ISO, alreadyChecked: true });
          opened.push(other);
          return createSqliteStore({ db: other, config: p.config, now: () => inst.clock.now, random: defaultRandomBytes });
        });
      },
      async scalar(text, params = []) {
        const row = db.query(text).get(...(params as (string | number | null)[])) as Record<string, unknown> | null;
        return Number(row ? Object.values(row)[0] : NaN);
      },
      async exec(text, params = []) {
        db.query(text).run(...(params as (string | number | null)[]));
      },
      async close() {
        for (const o of opened) closeProjectDb(o);
        await inst.close();
      },
    };
  },
};

function configOf(spec: ProjectSpec): ProjectConfig {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-contract-"));
  try {
    mkdirSync(join(dir, "projects"));
    writeFileSync(join(dir, "projects", `${spec.id}.yaml`), projectYaml(spec));
    const { projects, issues } = loadProjects([join(dir, "projects")], { env: {}, registry: BUILTIN_PLUGINS });
    if (issues.length) throw new Error(issues.map(formatConfigIssue).join("\n"));
    return projects[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pgText = (text: string): string => text.replace(/\?(\d+)/g, (_, n: string) => `$${n}`);

/**
 * One database per test file (created on first use, dropped by releaseEngines), one project schema
 * per test: creating a PostgreSQL database costs a second, a schema a fraction of it.
 */
let shared: Promise<TestDatabase> | null = null;
let schemas = 0;

const postgres: Engine = {
  name: "postgres",
  skip: PG_SKIP_REASON,
  async open(spec = authSpec()) {
    const config = configOf({ ...spec, id: `contract-${++schemas}` });
    const database = await (shared ??= createTestDatabase());
    await applyPostgresSchema(database.sql, config.id, config.tables, { confirmDestructive: false, nowIso: NOW_ISO });
    const schema = projectSchemaName(config.id);
    const now = () => Date.UTC(2026, 0, 15, 12);
    const pools: SQL[] = [];
    const inSchema = async <T>(run: (tx: SQL) => Promise<T>): Promise<T> =>
      (await database.sql.begin(async (tx) => {
        await tx.unsafe(`SET LOCAL search_path TO "${schema}"`);
        return await run(tx);
      })) as T;
    return {
      engine: "postgres",
      config,
      store: createPostgresStore({ sql: database.sql, config, now }),
      async replicas(n) {
        return Array.from({ length: n }, () => {
          const pool = new SQL(database.url, { max: 1 });
          pools.push(pool);
          return createPostgresStore({ sql: pool, config, now });
        });
      },
      scalar: (text, params = []) =>
        inSchema(async (tx) => {
          const rows = (await tx.unsafe(pgText(text), params as unknown[])) as Record<string, unknown>[];
          return Number(rows[0] ? Object.values(rows[0])[0] : NaN);
        }),
      exec: (text, params = []) => inSchema(async (tx) => void (await tx.unsafe(pgText(text), params as unknown[]))),
      async close() {
        for (const pool of pools) await pool.close();
        await database.sql.unsafe(`DROP SCHEMA "${schema}" CASCADE`);
      },
    };
  },
};

/** Drops the test file's PostgreSQL database (call from afterAll). */
export async function releaseEngines(): Promise<void> {
  const database = shared;
  shared = null;
  if (database) await (await database).drop();
}

export const ENGINES: readonly Engine[] = [sqlite, postgres];

let seq = 0;
/** Inserts a user with every built-in column, as signup would. */
export async function addUser(store: Pick<ContractStore, "users">, email: string, nowMs = Date.UTC(2026, 0, 15, 12)): Promise<UserRow> {
  const iso = new Date(nowMs).toISOString();
  seq++;
  return await store.users.insert({
    id: crypto.randomUUID(),
    email,
    _email_canonical: email.toLowerCase(),
    email_verified: 0,
    password_hash: `hash-${seq}`,
    _password_version: 1,
    created_at: iso,
    updated_at: iso,
    display_name: null,
  });
}
