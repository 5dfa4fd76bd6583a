/** Classifies a column that is declared but not in the applied model. */
import type { SchemaReader } from "./reader.ts";
import { describeFill, zeroFill } from "./fills.ts";
import type { ModelColumn } from "./model.ts";
import { change, rowsText } from "./planned-change.ts";
import type { ColumnSource } from "./rebuild.ts";
import { countRows } from "./row-counts.ts";
import type { SchemaChange } from "./types.ts";

export interface ColumnAddResult {
  readonly change: SchemaChange;
  /** ALTER TABLE ADD COLUMN cannot do it (NOT NULL without default, REFERENCES with a default). */
  readonly needsRebuild: boolean;
  readonly source: ColumnSource;
}

function describeColumn(col: ModelColumn): string {
  const parts: string[] = [col.type];
  if (col.ref) parts.push(`-> ${col.ref.table}`);
  if (col.notNull) parts.push("required");
  if (col.defaultSql !== null) parts.push(`default ${col.defaultSql}`);
  return parts.join(" ");
}

export function classifyColumnAdd(db: SchemaReader, table: string, col: ModelColumn): ColumnAddResult {
  const name = `${table}.${col.name}`;
  if (!col.notNull || col.defaultSql !== null) {
    const existing = col.defaultSql !== null ? `; existing rows get ${col.defaultSql}` : "";
    return {
      change: change({ kind: "add_column", table, column: col.name, description: `add column ${name} (${describeColumn(col)})${existing}` }),
      // With foreign keys on, SQLite rejects ADD COLUMN ... REFERENCES with a non-NULL default.
      needsRebuild: col.ref !== null && col.defaultSql !== null,
      source: { kind: "default" },
    };
  }
  const rows = countRows(db, table);
  const fill = zeroFill(col);
  if (rows === 0) {
    return {
      change: change({ kind: "add_column", table, column: col.name, description: `add column ${name} (${describeColumn(col)}); the table is empty` }),
      needsRebuild: true,
      source: { kind: "fill", fill: fill ?? { kind: "literal", sql: "NULL" } },
    };
  }
  if (fill === null) {
    return {
      change: change({
        kind: "add_required_column", table, column: col.name, destructive: true, conflict: true,
        description: `add required column ${name} without a default to a table with ${rowsText(rows)}: `
          + "a reference cannot be filled; add it as optional, fill it, then make it required",
      }),
      needsRebuild: true,
      source: { kind: "default" },
    };
  }
  // An app-side default (`now`, generated uuid) is a declared default: filling rows with it loses nothing.
  const appFilled = col.appDefault !== null;
  return {
    change: change({
      kind: appFilled ? "add_column" : "add_required_column", table, column: col.name, destructive: !appFilled,
      description: appFilled
        ? `add column ${name} (${describeColumn(col)}); existing rows (${rowsText(rows)}) get ${describeFill(fill)}`
        : `add required column ${name} (${describeColumn(col)}) without a default; existing rows (${rowsText(rows)}) get ${describeFill(fill)}`,
    }),
    needsRebuild: true,
    source: { kind: "fill", fill },
  };
}
