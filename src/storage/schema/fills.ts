/**
 * Values written into existing rows when a column becomes NOT NULL (a new required column, or an
 * optional one made required) and the declaration gives no SQL default. Chosen to keep rows valid
 * rather than invent meaning: the column's app-side default when it has one (`now`, generated
 * uuid), otherwise the type's zero value. A ref has no valid zero value, so it cannot be filled.
 */
import { SQLITE_DIALECT, type SqlDialect } from "./dialect.ts";
import type { ModelColumn } from "./model.ts";
import { sqlString } from "./sql-text.ts";
import { nowValueOf } from "../../config/column-types.ts";

export type Fill =
  | { readonly kind: "literal"; readonly sql: string }
  | { readonly kind: "now" }
  | { readonly kind: "uuid" };

/** Fill for a NOT NULL column without an SQL default, or null when none exists (refs). */
export function zeroFill(col: ModelColumn): Fill | null {
  if (col.appDefault === "now") return { kind: "now" };
  if (col.appDefault === "uuid") return { kind: "uuid" };
  switch (col.type) {
    case "ref":
      return null;
    case "uuid":
      return { kind: "uuid" };
    case "date":
    case "datetime":
    case "timestamp":
      return { kind: "now" };
    case "int":
    case "float":
    case "bool":
      return { kind: "literal", sql: "0" };
    case "json":
      return { kind: "literal", sql: sqlString("null") };
    case "enum":
      return { kind: "literal", sql: sqlString(col.enumValues?.[0] ?? "") };
    default:
      return { kind: "literal", sql: sqlString("") };
  }
}

/** Fill with the column's SQL default when it has one, else its zero value. */
export function fillFor(col: ModelColumn): Fill | null {
  return col.defaultSql !== null ? { kind: "literal", sql: col.defaultSql } : zeroFill(col);
}

export function describeFill(fill: Fill): string {
  if (fill.kind === "now") return "the current time";
  if (fill.kind === "uuid") return "a new uuid each";
  return fill.sql;
}

/** The SQL expression of a fill, evaluated with the injected apply clock. */
export function fillSql(fill: Fill, col: ModelColumn, nowIso: string, dialect: SqlDialect = SQLITE_DIALECT): string {
  if (fill.kind === "literal") return fill.sql;
  if (fill.kind === "uuid") return dialect.uuidSql;
  const now = nowValueOf(col.type, Date.parse(nowIso));
  return typeof now === "number" ? String(now) : sqlString(now ?? nowIso);
}
