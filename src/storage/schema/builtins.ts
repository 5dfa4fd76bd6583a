import type { ModelColumn } from "./model.ts";

/** Columns every declared table gets, in this order, before its custom columns. */
export const ID_COLUMN = "id";
export const CREATED_AT_COLUMN = "created_at";
export const UPDATED_AT_COLUMN = "updated_at";
export const BUILTIN_COLUMNS = [ID_COLUMN, CREATED_AT_COLUMN, UPDATED_AT_COLUMN] as const;

/** Columns the auth table gets after the built-ins above. */
export const EMAIL_COLUMN = "email";
export const EMAIL_CANONICAL_COLUMN = "_email_canonical";
export const EMAIL_VERIFIED_COLUMN = "email_verified";
export const PASSWORD_HASH_COLUMN = "password_hash";
export const PASSWORD_VERSION_COLUMN = "_password_version";
export const AUTH_BUILTIN_COLUMNS = [
  EMAIL_COLUMN,
  EMAIL_CANONICAL_COLUMN,
  EMAIL_VERIFIED_COLUMN,
  PASSWORD_HASH_COLUMN,
  PASSWORD_VERSION_COLUMN,
] as const;

/** Auth-table columns that are never returned to anyone. */
export const AUTH_PRIVATE_COLUMNS = [EMAIL_CANONICAL_COLUMN, PASSWORD_HASH_COLUMN, PASSWORD_VERSION_COLUMN] as const;

/** Name of the unique index on the auth table's canonical email. */
export function emailCanonicalIndexName(table: string): string {
  return `${table}_${EMAIL_CANONICAL_COLUMN}_unique`;
}

function builtin(
  name: string,
  type: ModelColumn["type"],
  extra: Partial<Pick<ModelColumn, "primaryKey" | "defaultSql" | "appDefault">> = {},
): ModelColumn {
  const sqlType = type === "bool" || type === "int" ? "INTEGER" : "TEXT";
  return {
    name,
    type,
    sqlType,
    primaryKey: extra.primaryKey ?? false,
    notNull: true,
    defaultSql: extra.defaultSql ?? null,
    enumValues: null,
    ref: null,
    appDefault: extra.appDefault ?? null,
  };
}

/** Model columns for the built-ins of a table (plus the auth built-ins when it is the auth table). */
export function builtinModelColumns(options: { authTable: boolean }): ModelColumn[] {
  const columns = [
    builtin(ID_COLUMN, "uuid", { primaryKey: true, appDefault: "uuid" }),
    builtin(CREATED_AT_COLUMN, "datetime", { appDefault: "now" }),
    builtin(UPDATED_AT_COLUMN, "datetime", { appDefault: "now" }),
  ];
  if (options.authTable) {
    columns.push(
      builtin(EMAIL_COLUMN, "string"),
      builtin(EMAIL_CANONICAL_COLUMN, "string"),
      builtin(EMAIL_VERIFIED_COLUMN, "bool", { defaultSql: "0" }),
      builtin(PASSWORD_HASH_COLUMN, "text"),
      builtin(PASSWORD_VERSION_COLUMN, "int", { defaultSql: "1" }),
    );
  }
  return columns;
}
