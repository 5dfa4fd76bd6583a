/**
 * Naming rules for projects, tables and columns (SPEC 2, 3). Names end up in URLs, file names and
 * SQL identifiers, so they are checked against a strict pattern rather than quoted and hoped for.
 */

export const PROJECT_ID_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
export const IDENTIFIER_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** Columns every table has, or that SQLite itself reserves. */
const RESERVED_COLUMNS: ReadonlySet<string> = new Set([
  "id", "created_at", "updated_at", "deleted_at", "rowid", "oid", "_rowid_",
]);
/** Built-in or internal columns of the auth table. */
const RESERVED_AUTH_COLUMNS: ReadonlySet<string> = new Set(["email", "password", "password_hash", "email_verified"]);
const RESERVED_AUTH_PREFIXES = ["verification_", "reset_", "password_"] as const;

/** Returns what is wrong with a table name, or null when it is acceptable. */
export function checkTableName(name: string): string | null {
  if (name.startsWith("_")) return `table name "${printable(name)}" starts with "_": such names are internal`;
  if (name.startsWith("sqlite_")) return `table name "${name}" starts with "sqlite_", which SQLite reserves`;
  if (!IDENTIFIER_PATTERN.test(name)) {
    return `invalid table name "${printable(name)}": use lowercase letters, digits and _ (starting with a letter, at most 63 characters)`;
  }
  return null;
}

/** Returns what is wrong with a custom column name, or null when it is acceptable. */
export function checkColumnName(name: string, opts: { readonly authTable: boolean }): string | null {
  if (RESERVED_COLUMNS.has(name)) return `column name "${name}" is reserved (built-in column)`;
  if (name.startsWith("_")) return `column name "${printable(name)}" starts with "_": such names are internal`;
  if (!IDENTIFIER_PATTERN.test(name)) {
    return `invalid column name "${printable(name)}": use lowercase letters, digits and _ (starting with a letter, at most 63 characters)`;
  }
  if (opts.authTable) {
    if (RESERVED_AUTH_COLUMNS.has(name)) return `column name "${name}" is reserved on the auth table (built-in column)`;
    const prefix = RESERVED_AUTH_PREFIXES.find((p: string): boolean => name.startsWith(p));
    if (prefix !== undefined) return `column name "${name}" is reserved on the auth table (names starting with "${prefix}" are internal)`;
  }
  return null;
}

/** A name as safe to print in a message: control characters escaped, long names cut. */
export function printable(name: string): string {
  const escaped = JSON.stringify(name).slice(1, -1);
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped;
}
