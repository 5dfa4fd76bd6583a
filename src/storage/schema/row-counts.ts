/** Read-only data probes the planner uses to classify changes and to describe what they touch. */
import type { SchemaReader } from "./reader.ts";
import { identList, quoteIdent, sqlString } from "./sql-text.ts";

function count(db: SchemaReader, sql: string): number {
  return db.count(sql);
}

export function countRows(db: SchemaReader, table: string): number {
  return count(db, `SELECT count(*) AS n FROM ${quoteIdent(table)}`);
}

export function countNonNull(db: SchemaReader, table: string, column: string): number {
  return count(db, `SELECT count(*) AS n FROM ${quoteIdent(table)} WHERE ${quoteIdent(column)} IS NOT NULL`);
}

export function countNull(db: SchemaReader, table: string, column: string): number {
  return count(db, `SELECT count(*) AS n FROM ${quoteIdent(table)} WHERE ${quoteIdent(column)} IS NULL`);
}

/** Rows whose value (converted by `valueSql`, e.g. a CAST) is not NULL and not one of `allowedSql`. */
export function countOutside(db: SchemaReader, table: string, valueSql: string, allowedSql: readonly string[]): number {
  return count(db, `SELECT count(*) AS n FROM ${quoteIdent(table)} WHERE ${valueSql} IS NOT NULL AND ${valueSql} NOT IN (${allowedSql.join(",")})`);
}

/** How many rows hold each of `values` in `column`. */
export function countByValue(db: SchemaReader, table: string, column: string, values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(values.map((v) => [v, 0]));
  if (values.length === 0) return counts;
  const rows = db.valueCounts(
    `SELECT ${quoteIdent(column)} AS v, count(*) AS n FROM ${quoteIdent(table)} WHERE ${quoteIdent(column)} IN (${values.map(sqlString).join(",")}) GROUP BY 1`,
  );
  for (const row of rows) counts.set(row.v, row.n);
  return counts;
}

/** Non-NULL values of `column` that are not an id of `target` (all of them when `target` does not exist yet). */
export function countOrphans(db: SchemaReader, table: string, column: string, target: string, targetExists: boolean): number {
  if (!targetExists) return countNonNull(db, table, column);
  return count(
    db,
    `SELECT count(*) AS n FROM ${quoteIdent(table)} WHERE ${quoteIdent(column)} IS NOT NULL AND ${quoteIdent(column)} NOT IN (SELECT "id" FROM ${quoteIdent(target)})`,
  );
}

/** Number of value combinations (all non-NULL) that appear in more than one row. */
export function countDuplicateGroups(db: SchemaReader, table: string, columns: readonly string[]): number {
  const notNull = columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(" AND ");
  return count(
    db,
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${quoteIdent(table)} WHERE ${notNull} GROUP BY ${identList(columns)} HAVING count(*) > 1) AS d`,
  );
}
