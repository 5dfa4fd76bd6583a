/** Classifies how one existing column changes between the applied and the declared model. */
import type { SchemaReader } from "./reader.ts";
import { checkValuesSql } from "./ddl.ts";
import { describeFill, fillFor } from "./fills.ts";
import type { ModelColumn } from "./model.ts";
import { change, rowsText } from "./planned-change.ts";
import type { ColumnSource } from "./rebuild.ts";
import { countByValue, countNonNull, countNull, countOrphans, countOutside } from "./row-counts.ts";
import { quoteIdent } from "./sql-text.ts";
import type { SchemaChange, SchemaChangeKind } from "./types.ts";

export interface ColumnChangeResult {
  readonly change: SchemaChange;
  /** Needs a table rebuild (else only the snapshot changes: e.g. string -> text, both TEXT). */
  readonly physical: boolean;
  readonly source: ColumnSource;
}

function describeRef(ref: ModelColumn["ref"]): string {
  return ref ? `${ref.table} (on delete ${ref.onDelete})` : "none";
}

export function classifyColumnChange(
  db: SchemaReader,
  liveTables: ReadonlySet<string>,
  table: string,
  from: ModelColumn,
  to: ModelColumn,
): ColumnChangeResult | null {
  const parts: string[] = [];
  let kind: SchemaChangeKind | null = null;
  let destructive = false;
  let conflict = false;
  let physical = false;
  const cast = from.sqlType !== to.sqlType ? to.sqlType : null;
  let source: ColumnSource = { kind: "copy", cast };
  const col = quoteIdent(to.name);
  const valueSql = cast ? `CAST(${col} AS ${db.dialect.columnType(cast)})` : col;

  if (from.type !== to.type) {
    kind = "change_type";
    destructive = true;
    physical ||= cast !== null;
    const converted = cast ? `; values of ${rowsText(countNonNull(db, table, to.name))} are converted with CAST to ${cast}` : "";
    parts.push(`type ${from.type} -> ${to.type}${converted}`);
  }

  const oldAllowed = checkValuesSql(from);
  const newAllowed = checkValuesSql(to);
  if ((oldAllowed ?? []).join(",") !== (newAllowed ?? []).join(",")) {
    physical = true;
    if (newAllowed) {
      if (from.type === "enum" && to.type === "enum") {
        const oldValues = from.enumValues ?? [];
        const newValues = to.enumValues ?? [];
        const removed = oldValues.filter((v) => !newValues.includes(v));
        const added = newValues.filter((v) => !oldValues.includes(v));
        if (removed.length === 0) {
          kind ??= "widen_enum";
          parts.push(added.length > 0 ? `allow ${added.map((v) => `'${v}'`).join(", ")}` : "reorder values");
        } else {
          kind ??= "narrow_enum";
          destructive = true;
          const counts = countByValue(db, table, to.name, removed);
          parts.push(`remove ${removed.map((v) => `'${v}' (${rowsText(counts.get(v) ?? 0)})`).join(", ")}`);
          if (added.length > 0) parts.push(`allow ${added.map((v) => `'${v}'`).join(", ")}`);
        }
      }
      const outside = countOutside(db, table, valueSql, newAllowed);
      if (outside > 0) {
        destructive = true;
        // Rows holding a value that is no longer allowed are never dropped silently: with a
        // declared default they are set to it (stated in the plan), without one the change is refused.
        if (to.defaultSql !== null) {
          source = { ...source, outside: { allowedSql: newAllowed, fill: { kind: "literal", sql: to.defaultSql } } };
          parts.push(`rows with a value no longer allowed (${rowsText(outside)}) are set to the default ${to.defaultSql}`);
        } else {
          conflict = true;
          parts.push(`rows with a value no longer allowed (${rowsText(outside)}) cannot be kept and there is no default: change them first`);
        }
      }
    }
  }

  if (JSON.stringify(from.ref) !== JSON.stringify(to.ref)) {
    kind ??= "change_reference";
    destructive = true;
    physical = true;
    parts.push(`reference ${describeRef(from.ref)} -> ${describeRef(to.ref)}`);
    if (to.ref && to.ref.table !== from.ref?.table) {
      const orphans = countOrphans(db, table, to.name, to.ref.table, liveTables.has(to.ref.table));
      if (orphans > 0) {
        conflict = true;
        parts.push(`rows pointing at ids missing from ${to.ref.table} (${rowsText(orphans)}): clear or fix them first`);
      }
    }
  }

  if (!from.notNull && to.notNull) {
    physical = true;
    const nulls = countNull(db, table, to.name);
    if (nulls === 0) parts.push("becomes required");
    else {
      destructive = true;
      const fill = fillFor(to);
      if (fill) {
        source = { ...source, nullFill: fill };
        parts.push(`becomes required; NULLs (${rowsText(nulls)}) are set to ${describeFill(fill)}`);
      } else {
        conflict = true;
        parts.push(`becomes required; NULLs (${rowsText(nulls)}) cannot be filled: set them first`);
      }
    }
  } else if (from.notNull && !to.notNull) {
    physical = true;
    parts.push("becomes optional");
  }

  if (from.defaultSql !== to.defaultSql) {
    physical = true;
    parts.push(`default ${from.defaultSql ?? "none"} -> ${to.defaultSql ?? "none"}`);
  }

  if (parts.length === 0) return null;
  const description = `${kind === "narrow_enum" || kind === "widen_enum" ? "change enum" : "change column"} ${table}.${to.name}: ${parts.join("; ")}`;
  return {
    change: change({ kind: kind ?? "change_column", table, column: to.name, destructive, conflict, description }),
    physical,
    source,
  };
}
