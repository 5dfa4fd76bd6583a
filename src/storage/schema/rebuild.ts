/**
 * The table rebuild (SQLite's "12-step" ALTER) for changes ALTER TABLE cannot make: type, CHECK,
 * NOT NULL, DEFAULT or FK changes, and required columns that need filling. The caller runs it
 * inside the apply transaction with foreign_keys OFF, and runs foreign_key_check before COMMIT.
 */
import { createIndexSql, createTableSqlForModel } from "./ddl.ts";
import type { SqlDialect } from "./dialect.ts";
import { fillSql, type Fill } from "./fills.ts";
import type { ModelColumn, ModelIndex, ModelTable, SqlType } from "./model.ts";
import { identList, quoteIdent } from "./sql-text.ts";

/** Where a column of the rebuilt table gets its values from. */
export type ColumnSource =
  /** New column that takes its SQL default (or NULL): left out of the INSERT. */
  | { readonly kind: "default" }
  /** New column filled for existing rows. */
  | { readonly kind: "fill"; readonly fill: Fill }
  | {
      readonly kind: "copy";
      readonly cast: SqlType | null;
      /** NULLs become this (column made required). */
      readonly nullFill?: Fill;
      /** Values outside `allowedSql` become this (narrowed CHECK with a default). */
      readonly outside?: { readonly allowedSql: readonly string[]; readonly fill: Fill };
    };

export interface RebuildSpec {
  readonly to: ModelTable;
  /** By column name; a column of `to` missing here is copied unchanged. */
  readonly sources: ReadonlyMap<string, ColumnSource>;
  /** Indexes that exist before and after (new ones are created by their own add_index change). */
  readonly keptIndexes: readonly ModelIndex[];
  readonly dialect: SqlDialect;
}

function sourceExpr(col: ModelColumn, source: ColumnSource, nowIso: string, dialect: SqlDialect): string {
  if (source.kind === "fill") return fillSql(source.fill, col, nowIso, dialect);
  let expr = quoteIdent(col.name);
  if (source.kind === "copy") {
    if (source.cast) expr = `CAST(${expr} AS ${dialect.columnType(source.cast)})`;
    if (source.outside) {
      const allowed = source.outside.allowedSql.join(",");
      expr = `CASE WHEN ${expr} IS NULL OR ${expr} IN (${allowed}) THEN ${expr} ELSE ${fillSql(source.outside.fill, col, nowIso, dialect)} END`;
    }
    if (source.nullFill) expr = `COALESCE(${expr}, ${fillSql(source.nullFill, col, nowIso, dialect)})`;
  }
  return expr;
}

export function rebuildTableSql(spec: RebuildSpec, nowIso: string): string[] {
  const table = spec.to.name;
  const temp = `_new_${table}`;
  const copied = spec.to.columns.filter((c) => spec.sources.get(c.name)?.kind !== "default");
  const hooks = spec.dialect.rebuildHooks(table);
  const exprs = copied.map((c) => sourceExpr(c, spec.sources.get(c.name) ?? { kind: "copy", cast: null }, nowIso, spec.dialect));
  return [
    createTableSqlForModel(spec.to, { as: temp, dialect: spec.dialect }),
    `INSERT INTO ${quoteIdent(temp)} (${identList(copied.map((c) => c.name))}) SELECT ${exprs.join(", ")} FROM ${quoteIdent(table)}`,
    ...hooks.beforeDrop,
    `DROP TABLE ${quoteIdent(table)}`,
    `ALTER TABLE ${quoteIdent(temp)} RENAME TO ${quoteIdent(table)}`,
    ...hooks.afterRename,
    ...spec.keptIndexes.map((index) => createIndexSql(table, index)),
  ];
}
