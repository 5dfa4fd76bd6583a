/**
 * Drizzle table objects for the declared tables, built from the same model as the DDL so the two
 * cannot disagree. Column keys are the SQL column names (snake_case, as in the JSON API).
 * Values are what SQLite stores (bool 0/1, json as text, timestamp as unix seconds): the services
 * validate and convert column values themselves (src/config/column-types.ts), so drizzle only
 * quotes, binds and builds the statements (see the rule in src/storage/store.ts).
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

function baseBuilder(col: ModelColumn): SQLiteColumnBuilderBase & ColumnModifiers {
  if (col.sqlType === "INTEGER") return integer(col.name);
  return col.sqlType === "REAL" ? real(col.name) : text(col.name);
}

/** The builder methods used here, shared by every column kind. */
interface ColumnModifiers {
  primaryKey(): SQLiteColumnBuilderBase;
  notNull(): SQLiteColumnBuilderBase & ColumnModifiers;
  default(value: SQL): SQLiteColumnBuilderBase & ColumnModifiers;
}

function columnBuilder(col: ModelColumn): SQLiteColumnBuilderBase {
  let builder = baseBuilder(col);
  if (col.primaryKey) return builder.primaryKey();
  if (col.notNull) builder = builder.notNull();
  // SQLite has no DEFAULT keyword in VALUES: drizzle sends NULL for an omitted column unless it
  // knows the default, so the SQL default is repeated here.
  if (col.defaultSql !== null) builder = builder.default(sql.raw(col.defaultSql));
  return builder;
}

/** One drizzle table per declared table, keyed by table name, built-in and internal columns included. */
export function buildDrizzleTables(tables: readonly TableDef[]): Record<string, DeclaredTable> {
  const out: Record<string, DeclaredTable> = {};
  for (const def of tables) {
    const model = buildModelTable(def);
    const columns: Record<string, SQLiteColumnBuilderBase> = {};
    for (const col of model.columns) columns[col.name] = columnBuilder(col);
    out[def.name] = sqliteTable(def.name, columns);
  }
  return out;
}
