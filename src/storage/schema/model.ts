/**
 * The "applied model": a serializable, physical description of the declared tables. It is what the
 * DDL is generated from, what is stored in `_latchkey_meta` after each apply, and what diffs compare.
 * Settings that only the app enforces (lengths, min/max, readonly, hidden) are deliberately absent:
 * changing them needs no migration.
 */
import { DEFAULT_NOW, type ColumnDef, type ColumnType, type OnDelete, type TableDef } from "../../config/types.ts";
import { sqlTypeOf, storeColumnValue, supportsNow, type SqlType } from "../../config/column-types.ts";
import { builtinModelColumns, emailCanonicalIndexName, EMAIL_CANONICAL_COLUMN } from "./builtins.ts";
import { SchemaModelError } from "./errors.ts";
import { sqlString } from "./sql-text.ts";

export { sqlTypeOf, type SqlType };

export interface ModelColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly sqlType: SqlType;
  readonly primaryKey: boolean;
  readonly notNull: boolean;
  /** SQL literal of the DEFAULT clause, exactly as `PRAGMA table_info` reports it back. */
  readonly defaultSql: string | null;
  /** enum only; bool's CHECK is implied by its type. */
  readonly enumValues: readonly string[] | null;
  readonly ref: { readonly table: string; readonly onDelete: OnDelete } | null;
  /** Filled by the app at insert (no SQL default); also how existing rows are filled when needed. */
  readonly appDefault: "now" | "uuid" | null;
}

export interface ModelIndex {
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique: boolean;
}

export interface ModelTable {
  readonly name: string;
  readonly authTable: boolean;
  readonly columns: readonly ModelColumn[];
  readonly indexes: readonly ModelIndex[];
}

export interface AppliedModel {
  readonly version: 1;
  readonly tables: readonly ModelTable[];
}

/** Internal (`_`) and SQLite's own (`sqlite_`) tables: never created, altered or dropped from a declaration. */
export function isReservedTableName(name: string): boolean {
  return name.startsWith("_") || name.startsWith("sqlite_");
}


/** The SQL DEFAULT literal for a declared default, or null when the app fills the value (or none). */
export function defaultSqlOf(table: string, col: ColumnDef): string | null {
  const value = col.default;
  if (!col.hasDefault || value === undefined || value === null) return null;
  if (value === DEFAULT_NOW && supportsNow(col.type)) return null;
  // The DEFAULT clause holds exactly what a request setting that value would store.
  const stored = storeColumnValue(col, value);
  if (!stored.ok || stored.value === null) throw new SchemaModelError(`default of ${table}.${col.name} is not ${stored.ok ? "a value" : stored.reason}`);
  return typeof stored.value === "number" ? String(stored.value) : sqlString(stored.value);
}

function customColumn(table: string, col: ColumnDef): ModelColumn {
  const now = col.hasDefault && col.default === DEFAULT_NOW && supportsNow(col.type);
  return {
    name: col.name,
    type: col.type,
    sqlType: sqlTypeOf(col.type),
    primaryKey: false,
    notNull: col.required,
    defaultSql: defaultSqlOf(table, col),
    enumValues: col.type === "enum" ? [...(col.values ?? [])] : null,
    ref: col.type === "ref" && col.refTable ? { table: col.refTable, onDelete: col.onDelete ?? "restrict" } : null,
    appDefault: now ? "now" : col.type === "uuid" && !col.hasDefault ? "uuid" : null,
  };
}

function tableIndexes(def: TableDef): ModelIndex[] {
  const indexes = new Map<string, ModelIndex>();
  const add = (index: ModelIndex): void => {
    const existing = indexes.get(index.name);
    if (existing && (existing.unique !== index.unique || existing.columns.join() !== index.columns.join())) {
      throw new SchemaModelError(`table ${def.name}: two different indexes would both be named ${index.name}`);
    }
    indexes.set(index.name, index);
  };
  if (def.authTable) add({ name: emailCanonicalIndexName(def.name), columns: [EMAIL_CANONICAL_COLUMN], unique: true });
  // The admin user list pages by (created_at, id) (SPEC 12): keyset pagination needs this order.
  if (def.authTable) add({ name: `${def.name}__created_at_id_idx`, columns: ["created_at", "id"], unique: false });
  // ...and `verified=true|false` walks only the matching users, in that same order, whatever their share.
  if (def.authTable) add({ name: `${def.name}__email_verified_created_at_id_idx`, columns: ["email_verified", "created_at", "id"], unique: false });
  for (const col of def.columns) {
    if (col.unique) add({ name: `${def.name}_${col.name}_unique`, columns: [col.name], unique: true });
    // A unique index already serves lookups, so an indexed (or ref) unique column gets no second index.
    else if (col.index || col.type === "ref") add({ name: `${def.name}_${col.name}_idx`, columns: [col.name], unique: false });
  }
  for (const columns of def.uniques) {
    add({ name: `${def.name}_${columns.join("_")}_unique`, columns: [...columns], unique: true });
  }
  return [...indexes.values()];
}

/** The physical model of one declared table, built-in columns included. */
export function buildModelTable(def: TableDef): ModelTable {
  if (isReservedTableName(def.name)) {
    throw new SchemaModelError(`table name ${def.name} is reserved: names starting with "_" or "sqlite_" are internal`);
  }
  return {
    name: def.name,
    authTable: def.authTable,
    columns: [...builtinModelColumns({ authTable: def.authTable }), ...def.columns.map((c) => customColumn(def.name, c))],
    indexes: tableIndexes(def),
  };
}

export function buildAppliedModel(tables: readonly TableDef[]): AppliedModel {
  return { version: 1, tables: tables.map(buildModelTable) };
}
