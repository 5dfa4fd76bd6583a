/**
 * What the live database actually holds (PRAGMA table_info / foreign_key_list / index_list and
 * sqlite_master), and how it differs from a model table. Read-only: safe on a read-only handle.
 */
import type { Database } from "bun:sqlite";
import { checkSql } from "./ddl.ts";
import { SQLITE_DIALECT } from "./dialect.ts";
import { isReservedTableName, type ModelIndex, type ModelTable } from "./model.ts";
import type { SchemaReader } from "./reader.ts";
import { readAppliedModel } from "./snapshot.ts";

export interface LiveColumn {
  readonly name: string;
  readonly type: string;
  readonly notNull: boolean;
  readonly defaultSql: string | null;
  readonly primaryKey: boolean;
}

export interface LiveTable {
  readonly name: string;
  /** SQLite: a STRICT table (PostgreSQL tables are always typed: true). */
  readonly strict: boolean;
  /** Text holding the table's CHECK constraints (SQLite: its CREATE TABLE). */
  readonly sql: string;
  /** Types in the model's words (TEXT, INTEGER, REAL), defaults as SQL literals. */
  readonly columns: readonly LiveColumn[];
  /** "from->table.to ON DELETE x", for comparison as a set. */
  readonly foreignKeys: readonly string[];
  readonly indexes: readonly ModelIndex[];
}

/** User tables: everything except `_`-prefixed internal tables and SQLite's own `sqlite_*`. */
export function listLiveTables(db: Database): Set<string> {
  const rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  return new Set(rows.map((r) => r.name).filter((n) => !isReservedTableName(n)));
}

export function readLiveTable(db: Database, name: string): LiveTable | null {
  const master = db.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) as { sql: string } | null;
  if (!master) return null;
  const list = db.query("SELECT strict FROM pragma_table_list(?)").get(name) as { strict: number } | null;
  const columns = (db.query("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)").all(name) as {
    name: string; type: string; notnull: number; dflt_value: string | null; pk: number;
  }[]).map((c) => ({ name: c.name, type: c.type.toUpperCase(), notNull: c.notnull === 1, defaultSql: c.dflt_value, primaryKey: c.pk > 0 }));
  const foreignKeys = (db.query("SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?)").all(name) as {
    from: string; table: string; to: string; on_delete: string;
  }[]).map((f) => `${f.from}->${f.table}.${f.to} ON DELETE ${f.on_delete}`);
  const indexRows = db.query("SELECT name, \"unique\" FROM pragma_index_list(?)").all(name) as { name: string; unique: number }[];
  const indexes = indexRows
    .filter((i) => !i.name.startsWith("sqlite_autoindex_"))
    .map((i) => {
      const cols = db.query("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(i.name) as { name: string }[];
      return { name: i.name, unique: i.unique === 1, columns: cols.map((c) => c.name) };
    });
  return { name, strict: (list?.strict ?? 0) === 1, sql: master.sql, columns, foreignKeys, indexes };
}

/** The SQLite engine's reader: answers the planner straight from the connection. */
export function sqliteSchemaReader(db: Database): SchemaReader {
  return {
    dialect: SQLITE_DIALECT,
    appliedModel: () => readAppliedModel(db),
    liveTables: () => listLiveTables(db),
    liveTable: (name) => readLiveTable(db, name),
    count: (sql) => (db.query(sql).get() as { n: number } | null)?.n ?? 0,
    valueCounts: (sql) => db.query(sql).all() as { v: string; n: number }[],
  };
}

const ON_DELETE_PRAGMA = { cascade: "CASCADE", set_null: "SET NULL", restrict: "RESTRICT" } as const;

/** Whitespace and double quotes removed, so formatting differences do not count. */
function normalizeSql(sql: string): string {
  return sql.replace(/[\s"]+/g, "");
}

function describeIndex(index: ModelIndex): string {
  return `${index.unique ? "unique " : ""}(${index.columns.join(", ")})`;
}

/**
 * Every way `live` differs from `expected`, as short phrases; empty when they match. CHECKs are
 * matched as text against the stored CREATE TABLE (SQLite has no pragma for them): a missing or
 * changed CHECK is found, an extra CHECK on a column that should have none is not.
 */
export function describeMismatches(expected: ModelTable, live: LiveTable): string[] {
  const problems: string[] = [];
  if (!live.strict) problems.push("it is not a STRICT table");
  const liveColumns = new Map(live.columns.map((c) => [c.name, c]));
  const normalizedSql = normalizeSql(live.sql);
  for (const col of expected.columns) {
    const found = liveColumns.get(col.name);
    if (!found) {
      problems.push(`column ${col.name} is missing`);
      continue;
    }
    const want = `${col.sqlType}${col.notNull ? " NOT NULL" : ""}${col.defaultSql !== null ? ` DEFAULT ${col.defaultSql}` : ""}`;
    const have = `${found.type}${found.notNull ? " NOT NULL" : ""}${found.defaultSql !== null ? ` DEFAULT ${found.defaultSql}` : ""}`;
    if (want !== have || col.primaryKey !== found.primaryKey) problems.push(`column ${col.name} is ${have}, expected ${want}`);
    const check = checkSql(col);
    if (check && !normalizedSql.includes(normalizeSql(`CHECK (${check})`))) {
      problems.push(`column ${col.name} lacks CHECK (${check})`);
    }
  }
  const expectedNames = new Set(expected.columns.map((c) => c.name));
  for (const col of live.columns) if (!expectedNames.has(col.name)) problems.push(`unexpected column ${col.name}`);

  const wantFks = expected.columns.flatMap((c) => (c.ref ? [`${c.name}->${c.ref.table}.id ON DELETE ${ON_DELETE_PRAGMA[c.ref.onDelete]}`] : []));
  const haveFks = new Set(live.foreignKeys);
  for (const fk of wantFks) if (!haveFks.delete(fk)) problems.push(`missing foreign key ${fk}`);
  for (const fk of haveFks) problems.push(`unexpected foreign key ${fk}`);

  const liveIndexes = new Map(live.indexes.map((i) => [i.name, i]));
  for (const index of expected.indexes) {
    const found = liveIndexes.get(index.name);
    liveIndexes.delete(index.name);
    if (!found) problems.push(`index ${index.name} is missing`);
    else if (describeIndex(found) !== describeIndex(index)) {
      problems.push(`index ${index.name} is ${describeIndex(found)}, expected ${describeIndex(index)}`);
    }
  }
  for (const index of liveIndexes.values()) problems.push(`unexpected index ${index.name}`);
  return problems;
}
