/**
 * `tables:` of a project file: table names, the auth table, columns (via the column DSL),
 * compound unique constraints, and ref targets (checked once every table is known).
 */
import { parseColumn } from "./columns.ts";
import { joinPath } from "./issues.ts";
import type { PathIssue } from "./issues.ts";
import { checkTableName, printable } from "./names.ts";
import { parseTableSection } from "./project-schema.ts";
import { didYouMean } from "./suggest.ts";
import type { ColumnDef, TableDef } from "./types.ts";

export interface TablesResult {
  readonly tables: readonly TableDef[];
  readonly authTableName: string | null;
  readonly issues: readonly PathIssue[];
}

function checkUniques(
  groups: readonly (readonly string[])[],
  declared: readonly string[],
  path: string,
  issues: PathIssue[],
): string[][] {
  const out: string[][] = [];
  groups.forEach((group: readonly string[], index: number): void => {
    const groupPath = joinPath(path, index);
    const seen = new Set<string>();
    let ok = true;
    for (const name of group) {
      if (!declared.includes(name)) {
        ok = false;
        issues.push({
          path: groupPath,
          message: `unknown column "${printable(name)}"${didYouMean(name, declared)} (a compound unique constraint names this table's custom columns)`,
        });
      } else if (seen.has(name)) {
        ok = false;
        issues.push({ path: groupPath, message: `column "${name}" is listed twice` });
      }
      seen.add(name);
    }
    if (ok) out.push([...group]);
  });
  return out;
}

/** Reads every table, reporting every problem found. `raw` is the `tables` map. */
export function parseTables(raw: Readonly<Record<string, unknown>>): TablesResult {
  const issues: PathIssue[] = [];
  const tables: TableDef[] = [];
  const tableNames = Object.keys(raw);
  let authTableName: string | null = null;

  for (const tableName of tableNames) {
    const tablePath = joinPath("tables", tableName);
    const nameError = checkTableName(tableName);
    if (nameError !== null) issues.push({ path: tablePath, message: nameError });
    const parsed = parseTableSection(raw[tableName], tablePath);
    issues.push(...parsed.issues);
    const table = parsed.table;
    if (table === undefined) continue;

    if (table.auth_table) {
      if (authTableName === null) {
        authTableName = tableName;
      } else {
        issues.push({
          path: joinPath(tablePath, "auth_table"),
          message: `a project has at most one auth table, and "${authTableName}" already is one`,
        });
      }
    }
    if (table.verify_email && !table.auth_table) {
      issues.push({ path: joinPath(tablePath, "verify_email"), message: "verify_email applies only to the auth table (auth_table: true)" });
    }

    const columns: ColumnDef[] = [];
    let columnsOk = true;
    for (const [columnName, columnRaw] of Object.entries(table.columns)) {
      const result = parseColumn(columnName, columnRaw, { authTable: table.auth_table });
      if (result.ok) {
        columns.push(result.column);
      } else {
        columnsOk = false;
        const columnPath = joinPath(joinPath(tablePath, "columns"), columnName);
        for (const message of result.errors) issues.push({ path: columnPath, message });
      }
    }
    const uniques = checkUniques(table.unique ?? [], Object.keys(table.columns), joinPath(tablePath, "unique"), issues);
    if (nameError === null && columnsOk) {
      tables.push({
        name: tableName,
        authTable: table.auth_table && authTableName === tableName,
        verifyEmail: table.verify_email,
        columns,
        uniques,
      });
    }
  }

  for (const table of tables) {
    for (const column of table.columns) {
      if (column.refTable === undefined || tableNames.includes(column.refTable)) continue;
      issues.push({
        path: `tables.${table.name}.columns.${column.name}`,
        message: `ref target table "${column.refTable}" does not exist${didYouMean(column.refTable, tableNames)}`,
      });
    }
  }
  return { tables, authTableName, issues };
}
