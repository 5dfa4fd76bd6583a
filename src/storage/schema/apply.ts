/**
 * Applies a schema plan in one IMMEDIATE transaction: every change, its _schema_history row and
 * the new applied-model snapshot commit together, or nothing does.
 */
import type { Database } from "bun:sqlite";
import type { TableDef } from "../../config/types.ts";
import { SchemaApplyError, SchemaBlockedError } from "./errors.ts";
import { sqliteSchemaReader } from "./introspect.ts";
import { planSchema, toSchemaPlan } from "./plan.ts";
import { rowsText, type PlannedChange } from "./planned-change.ts";
import { computePlan } from "./planner.ts";
import { readAppliedModelText, serializeAppliedModel, writeAppliedModel } from "./snapshot.ts";
import type { ApplyOptions, SchemaPlan } from "./types.ts";

function runStatement(db: Database, sql: string, planned: PlannedChange): void {
  try {
    db.run(sql);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = message.includes("UNIQUE constraint failed") ? ": the column has duplicate values, remove them first"
      : message.includes("CHECK constraint failed") ? ": existing rows hold values the new column definition does not allow"
      : "";
    throw new SchemaApplyError(`could not ${planned.change.description} (${message})${hint}`, { cause: error });
  }
}

function recordHistory(db: Database, planned: PlannedChange, statements: readonly string[], nowIso: string): void {
  const { change } = planned;
  const sql = statements.length > 0 ? statements.join(";\n") : (planned.historyNote ?? "");
  db.query(
    "INSERT INTO _schema_history (applied_at, kind, table_name, column_name, destructive, description, sql) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(nowIso, change.kind, change.table, change.column ?? null, change.destructive ? 1 : 0, change.description, sql);
}

function assertForeignKeys(db: Database): void {
  const broken = db.query("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check").all() as {
    table: string; rowid: number | null; parent: string;
  }[];
  if (broken.length === 0) return;
  const first = broken[0];
  const example = `${first?.table} row ${first?.rowid} -> ${first?.parent}`;
  throw new SchemaApplyError(
    `the schema change would leave ${rowsText(broken.length)} pointing at missing rows (e.g. ${example}); nothing was changed`,
  );
}

/**
 * Applies what `planSchema` would list. Throws SchemaBlockedError when the plan is blocked and
 * SchemaApplyError when a statement fails; in both cases the database is unchanged. Idempotent.
 * Must not be called inside a transaction: foreign_keys can only be switched off outside one.
 */
export function applySchema(db: Database, tables: readonly TableDef[], opts: ApplyOptions): SchemaPlan {
  if (db.inTransaction) throw new Error("applySchema must not be called inside a transaction");
  if (opts.beforeDestructive) {
    // VACUUM INTO (the backup) cannot run inside the transaction below; bun:sqlite is synchronous,
    // so no request of this process writes between this plan and the one applied.
    const before = planSchema(db, tables, opts);
    if (!before.blocked && before.destructive.length > 0) opts.beforeDestructive(before);
  }
  const fkRow = db.query("PRAGMA foreign_keys").get() as { foreign_keys: number } | null;
  const foreignKeysWereOn = fkRow?.foreign_keys === 1;
  // The table rebuild drops and renames tables; with foreign_keys ON that would cascade deletes
  // into child tables. Integrity is checked with foreign_key_check before COMMIT instead.
  if (foreignKeysWereOn) db.run("PRAGMA foreign_keys = OFF");
  try {
    const applyAll = db.transaction((): SchemaPlan => {
      // Planned inside the transaction so nothing can change between the plan and its application.
      const { changes, declared } = computePlan(sqliteSchemaReader(db), tables);
      const plan = toSchemaPlan(changes, opts);
      if (plan.blocked) throw new SchemaBlockedError(plan);
      for (const planned of changes) {
        const statements = planned.sql(opts.nowIso);
        for (const sql of statements) runStatement(db, sql, planned);
        recordHistory(db, planned, statements, opts.nowIso);
      }
      if (changes.length > 0) assertForeignKeys(db);
      if (readAppliedModelText(db) !== serializeAppliedModel(declared)) writeAppliedModel(db, declared);
      return plan;
    });
    return applyAll.immediate();
  } finally {
    if (foreignKeysWereOn) db.run("PRAGMA foreign_keys = ON");
  }
}
