/**
 * The store contract suite runs the same cases against both engines. An engine harness opens one
 * project database (a SQLite file in a temp dir, or a fresh PostgreSQL database with the project's
 * schema applied) and builds stores on it, each on a connection of its own, as separate processes
 * (replicas) would. Rows are inspected through `query`, which takes SQLite's `?` placeholders and
 * runs on the project's tables (unqualified names) on either engine.
 */
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProjectConfig } from "../../../src/config/types.ts";
import { defaultRandomBytes } from "../../../src/crypto/random.ts";
import { closeProjectDb, openProjectDb } from "../../../src/storage/sqlite/open.ts";
import { createSqliteStore } from "../../../src/storage/sqlite/store.ts";
import { applyPostgresSchema } from "../../../src/storage/postgres/schema.ts";
import { projectSchemaName } from "../../../src/storage/postgres/url.ts";
import { createPostgresStore } from "../../../src/storage/postgres/store.ts";
import type { StoreOps } from "../../../src/storage/store.ts";
import { createTestDatabase, PG_SKIP_REASON } from "../../helpers/postgres.ts";

export const PROJECT_ID = "demo-app";
export const NOW_ISO = "2026-01-01T00:00:00.000Z";
export const SEAL_KEY = new Uint8Array(32).fill(7);

/** The groups this suite covers, as both engines implement them. */
export type ContractGroups = Pick<StoreOps, "outbox" | "settings" | "keys" | "audit" | "consoleSessions" | "admin" | "housekeeping">;

export interface ContractStore {
  readonly ops: ContractGroups;
  /** Runs `fn` in one transaction of this store. */
  transaction<T>(fn: (tx: ContractGroups) => Promise<T>): Promise<T>;
}

export interface EngineHarness {
  /** Another store on the same project database, on a connection of its own (another replica). */
  store(opts?: { now?: () => number }): Promise<ContractStore>;
  query<T = Record<string, unknown>>(sqlText: string, params?: unknown[]): Promise<T[]>;
  /** SQLite only: the project database file. */
  readonly dbPath?: string;
  /** PostgreSQL only: the database's URL. */
  readonly dbUrl?: string;
  /** PostgreSQL only: a client on the database and the project's schema. */
  readonly pg?: { readonly sql: SQL; readonly schema: string };
  close(): Promise<void>;
}

export interface Engine {
  readonly name: "sqlite" | "postgres";
  /** Why this engine's cases are skipped, or null. */
  readonly skip: string | null;
  open(config?: Partial<ProjectConfig>): Promise<EngineHarness>;
}

function testConfig(extra: Partial<ProjectConfig> = {}): ProjectConfig {
  // The groups under test read no more of the configuration than the id and the tables.
  return { id: PROJECT_ID, tables: [], ...extra } as unknown as ProjectConfig;
}

/** SQLite `?` placeholders to PostgreSQL `$n`. */
function numbered(text: string): string {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

const sqlite: Engine = {
  name: "sqlite",
  skip: null,
  async open(extra) {
    const dir = mkdtempSync(join(tmpdir(), "latchkey-contract-"));
    const path = join(dir, `${PROJECT_ID}.db`);
    const config = testConfig(extra);
    const dbs: Database[] = [openProjectDb(path, { projectId: PROJECT_ID, nowIso: NOW_ISO })];
    let first = true;
    return {
      dbPath: path,
      async store(opts = {}) {
        const db = first ? dbs[0]! : openProjectDb(path, { projectId: PROJECT_ID, nowIso: NOW_ISO, alreadyChecked: true });
        if (!first) dbs.push(db);
        first = false;
        const store = createSqliteStore({ db, config, now: opts.now ?? Date.now, random: defaultRandomBytes });
        return { ops: store, transaction: (fn) => store.transaction(fn) };
      },
      async query(text, params = []) {
        return dbs[0]!.query(text).all(...(params as never[])) as never[];
      },
      async close() {
        for (const db of dbs) closeProjectDb(db);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const postgres: Engine = {
  name: "postgres",
  skip: PG_SKIP_REASON,
  async open(extra) {
    const db = await createTestDatabase();
    const config = testConfig(extra);
    await applyPostgresSchema(db.sql, PROJECT_ID, config.tables, { confirmDestructive: false, nowIso: NOW_ISO });
    const schema = projectSchemaName(PROJECT_ID);
    const pools: SQL[] = [];
    // Rows are inspected on one connection whose search_path is the project's schema.
    const inspect = new SQL(db.url, { max: 1, connection: { search_path: schema } });
    return {
      pg: { sql: db.sql, schema },
      dbUrl: db.url,
      async store(opts = {}) {
        const pool = new SQL(db.url, { max: 4 });
        pools.push(pool);
        const store = createPostgresStore({ sql: pool, config, now: opts.now ?? Date.now, random: defaultRandomBytes, sealKey: SEAL_KEY });
        return { ops: store, transaction: (fn) => store.transaction(fn) };
      },
      async query(text, params = []) {
        return [...((await inspect.unsafe(numbered(text), params)) as never[])];
      },
      async close() {
        await inspect.close();
        for (const pool of pools) await pool.close();
        await db.drop();
      },
    };
  },
};

export const ENGINES: readonly Engine[] = [sqlite, postgres];

/** A BIGINT column as a number on both engines (PostgreSQL returns it as text). */
export function n(v: unknown): number {
  return Number(v);
}
