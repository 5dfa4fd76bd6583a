/**
 * The PostgreSQL engine's schema side: one schema per project holding the internal tables and the
 * declared tables, planned by the shared planner (src/storage/schema/planner.ts) and applied in one
 * transaction under an advisory lock, so replicas booting at once apply a plan exactly once.
 */
import type { SQL } from "bun";
import type { TableDef } from "../../config/types.ts";
import { POSTGRES_DIALECT } from "../schema/dialect.ts";
import { SchemaApplyError, SchemaBlockedError } from "../schema/errors.ts";
import type { LiveTable } from "../schema/introspect.ts";
import { toSchemaPlan } from "../schema/plan.ts";
import type { PlannedChange } from "../schema/planned-change.ts";
import { computePlan, type ComputedPlan } from "../schema/planner.ts";
import type { SchemaReader } from "../schema/reader.ts";
import { MODEL_META_KEY, parseAppliedModel, serializeAppliedModel } from "../schema/snapshot.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { sha256Hex } from "../../crypto/digest.ts";
import type { ApplyOptions, PlanOptions, SchemaPlan } from "../schema/types.ts";
import { listPostgresTables, readPostgresTables } from "./introspect.ts";
import internalSql from "./internal.sql" with { type: "text" };
import { projectSchemaName } from "./url.ts";

/** Same version and marker as a SQLite project database (src/storage/sqlite/open.ts). */
export const PG_INTERNAL_SCHEMA_VERSION = 1;
const FORMAT_MARK = "latchkey";

/** A project schema that must not be used; the message is safe to show. */
export class PostgresSchemaError extends Error {
  override readonly name = "PostgresSchemaError";
}

/** The advisory lock every schema change of one project takes (a 32-bit hash of its schema name). */
async function lockProject(tx: SQL, schema: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(hashtext(${`latchkey schema ${schema}`}))`;
}

async function useSchema(tx: SQL, schema: string): Promise<void> {
  await tx.unsafe(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
}

async function schemaExists(tx: SQL, schema: string): Promise<boolean> {
  const rows = (await tx`SELECT 1 AS one FROM pg_namespace WHERE nspname = ${schema}`) as unknown[];
  return rows.length > 0;
}

/** Refuses a schema that is not this project's Latchkey schema, or is from a newer version. */
async function checkMarker(tx: SQL, schema: string, projectId: string): Promise<"ours" | "empty"> {
  const tables = (await tx`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p')`) as { name: string }[];
  if (tables.length === 0) return "empty";
  if (!tables.some((t) => t.name === "_latchkey_meta")) {
    throw new PostgresSchemaError(`schema ${schema} is not a Latchkey schema (it has other tables); it was left untouched`);
  }
  const rows = (await tx.unsafe(`SELECT key, value FROM ${quoteIdent(schema)}._latchkey_meta`)) as { key: string; value: string }[];
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  if (meta.get("format") !== FORMAT_MARK) throw new PostgresSchemaError(`schema ${schema} is not a Latchkey schema; it was left untouched`);
  const version = Number(meta.get("schema_version"));
  if (!Number.isInteger(version) || version > PG_INTERNAL_SCHEMA_VERSION) {
    throw new PostgresSchemaError(
      `schema ${schema} was written by a newer Latchkey (schema version ${meta.get("schema_version")}, this build knows ${PG_INTERNAL_SCHEMA_VERSION}); upgrade Latchkey`,
    );
  }
  if (meta.get("project_id") !== projectId) {
    throw new PostgresSchemaError(`schema ${schema} belongs to project "${meta.get("project_id")}", not "${projectId}"`);
  }
  return "ours";
}

/** Which text of internal.sql a schema was last brought up to (a key of `_latchkey_meta`). */
const INTERNAL_SQL_KEY = "internal_sql_sha256";
const INTERNAL_SQL_HASH = sha256Hex(internalSql);

/**
 * Creates the project's schema and internal tables when missing (inside the caller's transaction,
 * which holds the project's advisory lock), checks the marker otherwise, and points search_path at it.
 * internal.sql runs only when the schema has not seen this text of it yet: its CREATE INDEX and
 * CREATE TRIGGER statements lock the internal tables the requests write (sessions, tokens, the
 * outbox), and a reload that also alters the auth table would then deadlock with a signup holding
 * the auth table and waiting for one of them.
 */
async function ensureProjectSchema(tx: SQL, schema: string, projectId: string, nowIso: string): Promise<void> {
  await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  const state = await checkMarker(tx, schema, projectId);
  await useSchema(tx, schema);
  const applied = state === "ours" ? ((await tx`SELECT value FROM _latchkey_meta WHERE key = ${INTERNAL_SQL_KEY}`) as { value: string }[])[0]?.value : undefined;
  if (applied !== INTERNAL_SQL_HASH) {
    await tx.unsafe(internalSql);
    await tx`INSERT INTO _latchkey_meta (key, value) VALUES (${INTERNAL_SQL_KEY}, ${INTERNAL_SQL_HASH})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
  }
  if (state === "empty") {
    for (const [key, value] of [["format", FORMAT_MARK], ["schema_version", String(PG_INTERNAL_SCHEMA_VERSION)], ["project_id", projectId], ["created_at", nowIso]]) {
      await tx`INSERT INTO _latchkey_meta (key, value) VALUES (${key}, ${value})`;
    }
  }
}

/**
 * A SchemaReader over what was fetched from the schema beforehand. The planner is synchronous and
 * PostgreSQL is not, so counts it has not fetched yet are answered with 0 and remembered; the
 * caller fetches them and plans again, until a plan needed nothing new (see planWith).
 */
class PrefetchedReader implements SchemaReader {
  readonly dialect = POSTGRES_DIALECT;
  readonly counts = new Map<string, number>();
  readonly groups = new Map<string, { v: string; n: number }[]>();
  readonly missingCounts = new Set<string>();
  readonly missingGroups = new Set<string>();
  constructor(
    private readonly modelText: string | null,
    private readonly live: ReadonlySet<string>,
    private readonly described: ReadonlyMap<string, LiveTable>,
  ) {}
  appliedModel = () => parseAppliedModel(this.modelText);
  liveTables = () => this.live;
  liveTable = (name: string) => this.described.get(name) ?? null;
  count(sql: string): number {
    const n = this.counts.get(sql);
    if (n === undefined) this.missingCounts.add(sql);
    return n ?? 0;
  }
  valueCounts(sql: string): readonly { v: string; n: number }[] {
    const rows = this.groups.get(sql);
    if (rows === undefined) this.missingGroups.add(sql);
    return rows ?? [];
  }
}

async function readModelText(tx: SQL): Promise<string | null> {
  const rows = (await tx`SELECT value FROM _latchkey_meta WHERE key = ${MODEL_META_KEY}`) as { value: string }[];
  return rows[0]?.value ?? null;
}

/** Plans with the shared planner, fetching the row counts it asks for (search_path is the project's). */
async function planWith(tx: SQL, schema: string, tables: readonly TableDef[]): Promise<ComputedPlan> {
  const reader = new PrefetchedReader(await readModelText(tx), await listPostgresTables(tx, schema), await readPostgresTables(tx, schema));
  for (let round = 0; round < 20; round++) {
    const computed = computePlan(reader, tables);
    if (reader.missingCounts.size === 0 && reader.missingGroups.size === 0) return computed;
    for (const sql of reader.missingCounts) {
      const rows = (await tx.unsafe(sql)) as { n: string | number }[];
      reader.counts.set(sql, Number(rows[0]?.n ?? 0));
    }
    for (const sql of reader.missingGroups) {
      const rows = (await tx.unsafe(sql)) as { v: string; n: string | number }[];
      reader.groups.set(sql, rows.map((r) => ({ v: r.v, n: Number(r.n) })));
    }
    reader.missingCounts.clear();
    reader.missingGroups.clear();
  }
  throw new Error("the schema planner kept asking for new row counts");
}

/**
 * The plan for bringing the project's schema to the declared tables. Never writes (a READ ONLY
 * transaction): `latchkey check --database postgres://...`. A missing schema plans as empty.
 */
export async function planPostgresSchema(sql: SQL, projectId: string, tables: readonly TableDef[], opts: PlanOptions): Promise<SchemaPlan> {
  const schema = projectSchemaName(projectId);
  return await sql.begin(async (tx) => {
    await tx`SET TRANSACTION READ ONLY`;
    if (!(await schemaExists(tx, schema)) || (await checkMarker(tx, schema, projectId)) === "empty") {
      return toSchemaPlan(computePlan(null, tables, POSTGRES_DIALECT).changes, opts);
    }
    await useSchema(tx, schema);
    return toSchemaPlan((await planWith(tx, schema, tables)).changes, opts);
  });
}

function applyFailure(planned: PlannedChange, error: unknown): SchemaApplyError {
  const message = error instanceof Error ? error.message : String(error);
  const hint = /could not create unique index|duplicate key/.test(message) ? ": the column has duplicate values, remove them first"
    : /violates check constraint/.test(message) ? ": existing rows hold values the new column definition does not allow"
    : /violates foreign key constraint/.test(message) ? ": rows point at missing rows"
    : "";
  return new SchemaApplyError(`could not ${planned.change.description} (${message})${hint}`, { cause: error });
}

/**
 * Creates the project's schema when missing and applies what planPostgresSchema would list, all in
 * one transaction under the project's advisory lock: a replica that waited for the lock plans
 * again once the first has committed, finds nothing to do and writes no history row. Throws
 * SchemaBlockedError / SchemaApplyError with the schema unchanged. `beforeDestructive` is not
 * called: a PostgreSQL database is backed up with pg_dump, outside Latchkey.
 */
export async function applyPostgresSchema(sql: SQL, projectId: string, tables: readonly TableDef[], opts: ApplyOptions): Promise<SchemaPlan> {
  const schema = projectSchemaName(projectId);
  return await sql.begin(async (tx) => {
    await lockProject(tx, schema);
    await ensureProjectSchema(tx, schema, projectId, opts.nowIso);
    const { changes, declared } = await planWith(tx, schema, tables);
    const plan = toSchemaPlan(changes, opts);
    if (plan.blocked) throw new SchemaBlockedError(plan);
    for (const planned of changes) {
      const statements = planned.sql(opts.nowIso);
      for (const statement of statements) {
        try {
          await tx.unsafe(statement);
        } catch (error) {
          throw applyFailure(planned, error);
        }
      }
      const { change } = planned;
      const text = statements.length > 0 ? statements.join(";\n") : (planned.historyNote ?? "");
      await tx`INSERT INTO _schema_history (applied_at, kind, table_name, column_name, destructive, description, sql)
        VALUES (${opts.nowIso}, ${change.kind}, ${change.table}, ${change.column ?? null}, ${change.destructive ? 1 : 0}, ${change.description}, ${text})`;
    }
    const model = serializeAppliedModel(declared);
    if ((await readModelText(tx)) !== model) {
      await tx`INSERT INTO _latchkey_meta (key, value) VALUES (${MODEL_META_KEY}, ${model})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    }
    return plan;
  });
}

/** A `_settings` value of the project (null when the schema, the table or the key is missing). Read-only. */
export async function readPostgresSetting(sql: SQL, projectId: string, key: string): Promise<string | null> {
  const schema = projectSchemaName(projectId);
  const exists = (await sql`SELECT 1 AS one FROM pg_tables WHERE schemaname = ${schema} AND tablename = '_settings'`) as unknown[];
  if (exists.length === 0) return null;
  const rows = (await sql.unsafe(`SELECT value FROM ${quoteIdent(schema)}._settings WHERE key = $1`, [key])) as { value: string }[];
  return rows[0]?.value ?? null;
}
