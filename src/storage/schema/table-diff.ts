/** Changes that turn one applied table into its declared form: columns (ALTER or rebuild), then indexes. */
import type { SchemaReader } from "./reader.ts";
import { classifyColumnAdd } from "./column-add.ts";
import { classifyColumnChange } from "./column-change.ts";
import { columnDefinitionSql, createIndexSql, dropIndexSql } from "./ddl.ts";
import type { ModelIndex, ModelTable } from "./model.ts";
import { change, NO_SQL, PHASE, rowsText, type PlannedChange } from "./planned-change.ts";
import { rebuildTableSql, type ColumnSource } from "./rebuild.ts";
import { countDuplicateGroups, countNonNull, countRows } from "./row-counts.ts";
import { quoteIdent } from "./sql-text.ts";
import type { SchemaChange } from "./types.ts";

interface ColumnStep {
  readonly change: SchemaChange;
  readonly physical: boolean;
  /** The ALTER TABLE that does it when the table is not rebuilt. */
  readonly alterSql: string | null;
}

function sameIndex(a: ModelIndex, b: ModelIndex): boolean {
  return a.unique === b.unique && a.columns.join("\u0000") === b.columns.join("\u0000");
}

/** A new unique index over data that already has duplicates is refused at plan time, naming the columns. */
function duplicateProblem(db: SchemaReader, from: ModelTable, sources: ReadonlyMap<string, ColumnSource>, index: ModelIndex): string | null {
  if (!index.unique) return null;
  const existing = new Set(from.columns.map((c) => c.name));
  const columns = `${from.name}.${index.columns.join(" + ")}`;
  if (index.columns.every((c) => existing.has(c))) {
    const groups = countDuplicateGroups(db, from.name, index.columns);
    return groups > 0 ? `${columns} has ${groups} duplicated values: remove the duplicates first` : null;
  }
  const source = sources.get(index.columns[0] ?? "");
  const constant = source?.kind === "fill" ? source.fill.kind !== "uuid" : source?.kind === "default";
  if (index.columns.length === 1 && constant && countRows(db, from.name) > 1) {
    return `${columns} would get the same value in every existing row`;
  }
  return null;
}

export function diffTable(db: SchemaReader, liveTables: ReadonlySet<string>, from: ModelTable, to: ModelTable): PlannedChange[] {
  const table = to.name;
  const fromColumns = new Map(from.columns.map((c) => [c.name, c]));
  const toNames = new Set(to.columns.map((c) => c.name));
  const sources = new Map<string, ColumnSource>();
  const steps: ColumnStep[] = [];
  let rebuild = false;

  for (const col of to.columns) {
    const old = fromColumns.get(col.name);
    if (!old) {
      const added = classifyColumnAdd(db, table, col);
      sources.set(col.name, added.source);
      rebuild ||= added.needsRebuild;
      steps.push({ change: added.change, physical: true, alterSql: `ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${columnDefinitionSql(col, db.dialect)}` });
      continue;
    }
    const changed = classifyColumnChange(db, liveTables, table, old, col);
    if (!changed) continue;
    sources.set(col.name, changed.source);
    rebuild ||= changed.physical;
    steps.push({ change: changed.change, physical: changed.physical, alterSql: null });
  }
  for (const old of from.columns) {
    if (toNames.has(old.name)) continue;
    const values = countNonNull(db, table, old.name);
    // ALTER TABLE DROP COLUMN refuses key and FK columns: those go through the rebuild.
    rebuild ||= old.ref !== null || old.primaryKey;
    steps.push({
      change: change({
        kind: "drop_column", table, column: old.name, destructive: true,
        description: `drop column ${table}.${old.name} (${rowsText(values)} ${values === 1 ? "has" : "have"} a value)`,
      }),
      physical: true,
      alterSql: `ALTER TABLE ${quoteIdent(table)} DROP COLUMN ${quoteIdent(old.name)}`,
    });
  }

  const fromIndexes = new Map(from.indexes.map((i) => [i.name, i]));
  const keptIndexes = to.indexes.filter((i) => {
    const old = fromIndexes.get(i.name);
    return old !== undefined && sameIndex(old, i);
  });
  const kept = new Set(keptIndexes.map((i) => i.name));
  const spec = { to, sources, keptIndexes, dialect: db.dialect };
  const out: PlannedChange[] = [];

  for (const index of from.indexes) {
    if (kept.has(index.name)) continue;
    out.push({
      change: change({ kind: "drop_index", table, description: `drop ${index.unique ? "unique " : ""}index ${index.name}` }),
      phase: PHASE.dropIndex,
      sql: () => [dropIndexSql(index)],
    });
  }
  let rebuildAttached = false;
  for (const step of steps) {
    let sql: (nowIso: string) => string[] = NO_SQL;
    let historyNote: string | undefined;
    if (rebuild && step.physical && !rebuildAttached) {
      sql = (nowIso) => rebuildTableSql(spec, nowIso);
      rebuildAttached = true;
    } else if (rebuild && step.physical) {
      historyNote = `-- done by the rebuild of ${quoteIdent(table)} recorded above`;
    } else if (step.alterSql) {
      const alterSql = step.alterSql;
      sql = () => [alterSql];
    }
    out.push({ change: step.change, phase: PHASE.columns, sql, historyNote });
  }
  for (const index of to.indexes) {
    if (kept.has(index.name)) continue;
    const problem = duplicateProblem(db, from, sources, index);
    const what = `${index.unique ? "unique " : ""}index ${index.name} on ${table} (${index.columns.join(", ")})`;
    out.push({
      change: change({
        kind: "add_index", table, column: index.columns.length === 1 ? index.columns[0] : undefined,
        conflict: problem !== null, description: problem ? `add ${what}: ${problem}` : `add ${what}`,
      }),
      phase: PHASE.addIndex,
      sql: () => [createIndexSql(table, index)],
    });
  }
  return out;
}
