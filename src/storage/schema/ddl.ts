/** DDL for declared tables (SQLite by default, or another dialect): STRICT tables, CHECKs for bool/enum, FKs, named indexes. */
import type { TableDef } from "../../config/types.ts";
import { SQLITE_DIALECT, type SqlDialect } from "./dialect.ts";
import { buildModelTable, type ModelColumn, type ModelIndex, type ModelTable } from "./model.ts";
import { identList, quoteIdent, sqlString } from "./sql-text.ts";

const ON_DELETE_SQL = { cascade: "CASCADE", set_null: "SET NULL", restrict: "RESTRICT" } as const;

/** SQL literals a CHECK allows for this column, or null when it has no CHECK. */
export function checkValuesSql(col: Pick<ModelColumn, "type" | "enumValues">): string[] | null {
  if (col.type === "bool") return ["0", "1"];
  if (col.type === "enum") return (col.enumValues ?? []).map(sqlString);
  return null;
}

/** The CHECK expression (without the CHECK keyword), e.g. `"role" IN ('admin','member')`. */
export function checkSql(col: ModelColumn): string | null {
  const values = checkValuesSql(col);
  return values ? `${quoteIdent(col.name)} IN (${values.join(",")})` : null;
}

export function referenceSql(col: ModelColumn): string | null {
  if (!col.ref) return null;
  return `REFERENCES ${quoteIdent(col.ref.table)}("id") ON DELETE ${ON_DELETE_SQL[col.ref.onDelete]}`;
}

/** One column definition as used by CREATE TABLE and ALTER TABLE ADD COLUMN (`withoutRef`: its foreign key is added later). */
export function columnDefinitionSql(col: ModelColumn, dialect: SqlDialect = SQLITE_DIALECT, withoutRef = false): string {
  const parts = [quoteIdent(col.name), dialect.columnType(col.sqlType)];
  if (col.primaryKey) parts.push("PRIMARY KEY");
  if (col.notNull) parts.push("NOT NULL");
  if (col.defaultSql !== null) parts.push(`DEFAULT ${col.defaultSql}`);
  const check = checkSql(col);
  if (check) parts.push(`CHECK (${check})`);
  const ref = withoutRef ? null : referenceSql(col);
  if (ref) parts.push(ref);
  return parts.join(" ");
}

/**
 * The foreign key of a ref column added to an existing table; PostgreSQL names it as it names an
 * inline REFERENCES (`<table>_<column>_fkey`), so the result is the same as writing it inline.
 */
export function addForeignKeySql(table: string, col: ModelColumn): string {
  return `ALTER TABLE ${quoteIdent(table)} ADD FOREIGN KEY (${quoteIdent(col.name)}) ${referenceSql(col)}`;
}

/**
 * CREATE TABLE for a model table; `as` names the created table (the rebuild creates `_new_<name>`);
 * `withoutRefs` names ref columns whose foreign key is added later (see addForeignKeySql).
 */
export function createTableSqlForModel(table: ModelTable, options: { as?: string; dialect?: SqlDialect; withoutRefs?: ReadonlySet<string> } = {}): string {
  const dialect = options.dialect ?? SQLITE_DIALECT;
  const columns = table.columns.map((c) => `  ${columnDefinitionSql(c, dialect, options.withoutRefs?.has(c.name) === true)}`).join(",\n");
  return `CREATE TABLE ${quoteIdent(options.as ?? table.name)} (\n${columns}\n)${dialect.tableOptions}`;
}

export function createIndexSql(table: string, index: ModelIndex): string {
  const unique = index.unique ? "UNIQUE " : "";
  return `CREATE ${unique}INDEX ${quoteIdent(index.name)} ON ${quoteIdent(table)} (${identList(index.columns)})`;
}

export function dropIndexSql(index: ModelIndex): string {
  return `DROP INDEX ${quoteIdent(index.name)}`;
}

/** CREATE TABLE statement for a declared table, built-in columns included. */
export function createTableSql(def: TableDef): string {
  return createTableSqlForModel(buildModelTable(def));
}

/** CREATE [UNIQUE] INDEX statements for a declared table (uniques, indexes, refs, compound uniques). */
export function indexSql(def: TableDef): string[] {
  const model = buildModelTable(def);
  return model.indexes.map((index) => createIndexSql(def.name, index));
}
