/** Quoting helpers shared by every SQL builder in this module. */

/** Double-quoted SQL identifier (embedded quotes doubled). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single-quoted SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A comma-separated, quoted column list: `"a", "b"`. */
export function identList(names: readonly string[]): string {
  return names.map(quoteIdent).join(", ");
}
