/** PostgreSQL's refusals of a write to a declared table, as the engine-neutral StoreConstraintError. */
import type { TableDef } from "../../config/types.ts";
import { EMAIL_CANONICAL_COLUMN } from "../schema/builtins.ts";
import { StoreConstraintError, type ConstraintKind } from "../errors.ts";
import { sqlState } from "./run.ts";

/** SQLSTATE -> kind. Class 22 (a value of the wrong type or range) is a value the column does not accept. */
const KINDS: Record<string, ConstraintKind> = {
  "23505": "unique",
  "23502": "not_null",
  "23503": "foreign_key",
  "23514": "check",
  "22P02": "check",
  "22003": "check",
  "22007": "check",
  "22008": "check",
  "22001": "check",
};

/** The constraint error `e` stands for, or null when it is no refusal of a value. */
export function pgConstraintError(e: unknown, table: TableDef): StoreConstraintError | null {
  const state = sqlState(e);
  const kind = state === null ? undefined : KINDS[state];
  if (!kind) return null;
  const fields = e as { detail?: unknown; column?: unknown; constraint?: unknown };
  const known = new Set([EMAIL_CANONICAL_COLUMN, ...table.columns.map((c) => c.name)]);
  let named: string[] = [];
  // "Key (a, b)=(...) already exists." / "... is not present in table ...": the value itself is never kept.
  const key = typeof fields.detail === "string" ? /^Key \((.+?)\)=/.exec(fields.detail) : null;
  if (key) named = key[1]!.split(", ").map((c) => c.replace(/^"|"$/g, "").replaceAll('""', '"'));
  else if (typeof fields.column === "string") named = [fields.column];
  else if (typeof fields.constraint === "string") {
    // A column CHECK is named <table>_<column>_check by PostgreSQL.
    const m = new RegExp(`^${escapeRe(table.name)}_(.+)_check$`).exec(fields.constraint);
    if (m) named = [m[1]!];
  }
  return new StoreConstraintError(kind, table.name, named.filter((c) => known.has(c)), { cause: e });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
