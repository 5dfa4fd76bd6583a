/**
 * Compares the declared tables with the applied-model snapshot, after checking the snapshot
 * against the live database so hand edits are caught, and lists the changes in apply order.
 * Read-only: it only reads (SELECTs, PRAGMA reads), so a read-only handle is fine. Engine-neutral:
 * it reads through a SchemaReader and writes DDL in the reader's dialect.
 */
import type { TableDef } from "../../config/types.ts";
import { addForeignKeySql, createIndexSql, createTableSqlForModel } from "./ddl.ts";
import { SQLITE_DIALECT, type SqlDialect } from "./dialect.ts";
import { describeMismatches } from "./introspect.ts";
import { buildAppliedModel, isReservedTableName, type AppliedModel, type ModelTable } from "./model.ts";
import { change, NO_SQL, PHASE, rowsText, type PlannedChange } from "./planned-change.ts";
import type { SchemaReader } from "./reader.ts";
import { countRows } from "./row-counts.ts";
import { quoteIdent } from "./sql-text.ts";
import { diffTable } from "./table-diff.ts";

export interface ComputedPlan {
  readonly changes: readonly PlannedChange[];
  /** The snapshot to store once the changes are applied. */
  readonly declared: AppliedModel;
}

/** Foreign keys of a plan's new tables that wait for a table the same plan creates later. */
interface DeferredRefs {
  /** Per created table: its ref columns created without their foreign key. */
  readonly without: ReadonlyMap<string, ReadonlySet<string>>;
  /** Per created table: the ALTER TABLE statements that add those foreign keys once it exists. */
  readonly after: ReadonlyMap<string, readonly string[]>;
}

function createTable(table: ModelTable, dialect: SqlDialect, deferred?: DeferredRefs): PlannedChange {
  const indexes = table.indexes.length > 0 ? `, ${table.indexes.length} indexes` : "";
  const withoutRefs = deferred?.without.get(table.name);
  return {
    change: change({ kind: "create_table", table: table.name, description: `create table ${table.name} (${table.columns.length} columns${indexes})` }),
    phase: PHASE.createTable,
    sql: () => [
      createTableSqlForModel(table, { dialect, ...(withoutRefs ? { withoutRefs } : {}) }),
      ...table.indexes.map((i) => createIndexSql(table.name, i)),
      ...(deferred?.after.get(table.name) ?? []),
    ],
  };
}

/**
 * SQLite resolves a REFERENCES target when the key is used, so a table may point at one declared
 * (and created) after it. PostgreSQL checks the target at CREATE TABLE: there, a new table's ref to
 * a table this plan creates later is left out of its CREATE TABLE and added by ALTER TABLE right
 * after the target's (which also covers two new tables pointing at each other). The changes, their
 * order and the plan id stay the same on both engines; only the statements differ.
 */
function deferForwardRefs(changes: PlannedChange[], declared: AppliedModel, dialect: SqlDialect): PlannedChange[] {
  if (dialect.engine !== "postgres") return changes;
  const created = changes.filter((c) => c.change.kind === "create_table").map((c) => c.change.table);
  const position = new Map(created.map((name, i) => [name, i]));
  const tables = new Map(declared.tables.map((t) => [t.name, t]));
  const without = new Map<string, Set<string>>();
  const after = new Map<string, string[]>();
  for (const name of created) {
    for (const col of tables.get(name)?.columns ?? []) {
      const target = col.ref ? position.get(col.ref.table) : undefined;
      if (target === undefined || target <= (position.get(name) ?? 0)) continue; // existing table, earlier one or itself
      (without.get(name) ?? without.set(name, new Set()).get(name)!).add(col.name);
      (after.get(col.ref!.table) ?? after.set(col.ref!.table, []).get(col.ref!.table)!).push(addForeignKeySql(name, col));
    }
  }
  if (without.size === 0) return changes;
  const deferred: DeferredRefs = { without, after };
  return changes.map((c) => (c.change.kind === "create_table" && tables.has(c.change.table) ? createTable(tables.get(c.change.table)!, dialect, deferred) : c));
}

function bookkeeping(kind: "adopt_table" | "forget_table", table: string, description: string): PlannedChange {
  return { change: change({ kind, table, description }), phase: PHASE.bookkeeping, sql: NO_SQL, historyNote: "-- no SQL: only the applied model changes" };
}

function conflict(kind: "schema_drift" | "foreign_table", table: string, description: string): PlannedChange {
  return { change: change({ kind, table, conflict: true, description }), phase: PHASE.bookkeeping, sql: NO_SQL };
}

function planDeclaredTable(db: SchemaReader, live: ReadonlySet<string>, from: ModelTable | undefined, to: ModelTable): PlannedChange[] {
  const liveTable = live.has(to.name) ? db.liveTable(to.name) : null;
  if (!liveTable) {
    if (!from) return [createTable(to, db.dialect)];
    return [conflict("schema_drift", to.name,
      `table ${to.name} was applied before but is missing from the database (dropped by hand?): ` +
      "restore the database from a backup, or remove the table from the project file once so Latchkey forgets it")];
  }
  if (from) {
    const drift = describeMismatches(from, liveTable);
    if (drift.length === 0) return diffTable(db, live, from, to);
    if (describeMismatches(to, liveTable).length === 0) {
      return [bookkeeping("adopt_table", to.name, `adopt table ${to.name}: it was changed outside Latchkey and now matches the declaration`)];
    }
    return [conflict("schema_drift", to.name,
      `table ${to.name} was changed outside Latchkey (${drift.join("; ")}): change it back by hand, or make it match the declaration`)];
  }
  const mismatch = describeMismatches(to, liveTable);
  if (mismatch.length === 0) {
    return [bookkeeping("adopt_table", to.name, `adopt table ${to.name}: it already exists and matches the declaration`)];
  }
  return [conflict("foreign_table", to.name,
    `table ${to.name} already exists but was not created from this declaration (${mismatch.join("; ")}): rename or drop it, or declare it to match`)];
}

/** `db` null means an empty database (of `dialect`, SQLite unless said). */
export function computePlan(db: SchemaReader | null, tables: readonly TableDef[], dialect: SqlDialect = db?.dialect ?? SQLITE_DIALECT): ComputedPlan {
  const declared = buildAppliedModel(tables);
  if (!db) return { declared, changes: deferForwardRefs(declared.tables.map((t) => createTable(t, dialect)), declared, dialect) };

  const snapshot = db.appliedModel();
  const live = db.liveTables();
  // A snapshot naming an internal table (hand-edited) must never lead to dropping or altering it.
  const known = new Map((snapshot?.tables ?? []).filter((t) => !isReservedTableName(t.name)).map((t) => [t.name, t]));
  const declaredNames = new Set(declared.tables.map((t) => t.name));
  const changes: PlannedChange[] = [];

  for (const to of declared.tables) changes.push(...planDeclaredTable(db, live, known.get(to.name), to));
  for (const from of known.values()) {
    if (declaredNames.has(from.name)) continue;
    if (!live.has(from.name)) {
      changes.push(bookkeeping("forget_table", from.name, `forget table ${from.name}: it is no longer declared and already gone from the database`));
      continue;
    }
    const rows = countRows(db, from.name);
    changes.push({
      change: change({ kind: "drop_table", table: from.name, destructive: true, description: `drop table ${from.name} (${rowsText(rows)})` }),
      phase: PHASE.dropTable,
      sql: () => [`DROP TABLE ${quoteIdent(from.name)}`],
    });
  }
  // Array.prototype.sort is stable: within a phase, changes keep table and column order.
  return { declared, changes: deferForwardRefs(changes.sort((a, b) => a.phase - b.phase), declared, dialect) };
}
