/**
 * Drizzle table objects for the declared tables, built from the same model as the DDL so the two
 * cannot disagree. Column keys are the SQL column names (snake_case, as in the JSON API).
 * Modes are JSON-friendly: bool <-> boolean, json <-> parsed value, timestamp <-> unix seconds.
 */
import { sql, type SQL } from "drizzle-orm";
import {
  integer,
  real,
  sqliteTable,
  text,
  type SQLiteColumn,
  type SQLiteColumnBuilderBase,
  type SQLiteTableWithColumns,
} from "drizzle-orm/sqlite-core";
import type { TableDef } from "../../config/types.ts";
import { buildModelTable, type ModelColumn } from "./model.ts";

export type DeclaredTable = SQLiteTableWithColumns<{
  name: string;
  schema: undefined;
  columns: Record<string, SQLiteColumn>;
  dialect: "sqlite";
}>;

function baseBuilder(col: ModelColumn, storedValues: boolean): SQLiteColumnBuilderBase & ColumnModifiers {
  switch (col.type) {
    case "bool":
      return storedValues ? integer(col.name) : integer(col.name, { mode: "boolean" });
    case "json":
      return storedValues ? text(col.name) : text(col.name, { mode: "json" });
    default:
      if (col.sqlType === "INTEGER") return integer(col.name);
      return col.sqlType === "REAL" ? real(col.name) : text(col.name);
  }
}

/** The builder methods used here, shared by every column kind. */
interface ColumnModifiers {
  primaryKey(): SQLiteColumnBuilderBase;
  notNull(): SQLiteColumnBuilderBase & ColumnModifiers;
  default(value: SQL): SQLiteColumnBuilderBase & ColumnModifiers;
}

function columnBuilder(col: ModelColumn, storedValues: boolean): SQLiteColumnBuilderBase {
  let builder = baseBuilder(col, storedValues);
  if (col.primaryKey) return builder.primaryKey();
  if (col.notNull) builder = builder.notNull();
  // SQLite has no DEFAULT keyword in VALUES: drizzle sends NULL for an omitted column unless it
  // knows the default, so the SQL default is repeated here.
  if (col.defaultSql !== null) builder = builder.default(sql.raw(col.defaultSql));
  return builder;
}

/**
 * One drizzle table per declared table, keyed by table name, built-in and internal columns included.
 * `storedValues`: bool and json columns read and write what SQLite stores (0/1, JSON text) instead of
 * JS booleans and parsed values — for code that validates and converts values itself.
 */
export function buildDrizzleTables(tables: readonly TableDef[], opts: { storedValues?: boolean } = {}): Record<string, DeclaredTable> {
  const storedValues = opts.storedValues === true;
  const out: Record<string, DeclaredTable> = {};
  for (const def of tables) {
    const model = buildModelTable(def);
    const columns: Record<string, SQLiteColumnBuilderBase> = {};
    for (const col of model.columns) columns[col.name] = columnBuilder(col, storedValues);
    out[def.name] = sqliteTable(def.name, columns);
  }
  return out;
}
