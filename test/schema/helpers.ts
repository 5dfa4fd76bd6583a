/** Builders for declared tables and real temp-file SQLite databases for the schema tests. */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ColumnDef, ColumnType, TableDef } from "../../src/config/types.ts";

const INTERNAL_SQL = await Bun.file(join(import.meta.dir, "../../src/storage/sqlite/internal.sql")).text();

export const NOW = "2026-01-15T12:00:00.000Z";
export const LATER = "2026-01-16T08:30:00.000Z";

export function col(name: string, type: ColumnType, extra: Partial<ColumnDef> = {}): ColumnDef {
  return {
    name,
    type,
    required: false,
    unique: false,
    index: type === "ref",
    hasDefault: extra.default !== undefined,
    readonly: false,
    hidden: false,
    ...extra,
  };
}

export function table(name: string, columns: readonly ColumnDef[], extra: Partial<TableDef> = {}): TableDef {
  return { name, authTable: false, verifyEmail: false, columns, uniques: [], ...extra };
}

export interface TestDb {
  readonly db: Database;
  readonly path: string;
  close(): void;
}

/** A fresh project database file with the internal tables and foreign_keys=ON, like the real opener. */
export function openTestDb(): TestDb {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-schema-"));
  const path = join(dir, "project.db");
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run(INTERNAL_SQL);
  db.run("PRAGMA foreign_keys = ON");
  return {
    db,
    path,
    close(): void {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Everything observable about the schema and data: for "nothing changed" assertions. */
export function dumpDatabase(db: Database): string {
  const master = db.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all() as { type: string; name: string }[];
  const data: Record<string, unknown[]> = {};
  for (const entry of master) {
    if (entry.type === "table" && !entry.name.startsWith("sqlite_")) {
      // Sorted in JS: internal WITHOUT ROWID tables have no rowid to order by.
      data[entry.name] = db
        .query(`SELECT * FROM "${entry.name}"`)
        .all()
        .map((row) => JSON.stringify(row))
        .sort()
        .map((row) => JSON.parse(row) as unknown);
    }
  }
  return JSON.stringify({ master, data });
}

export interface HistoryRow {
  applied_at: string;
  kind: string;
  table_name: string;
  column_name: string | null;
  destructive: number;
  description: string;
  sql: string;
}

export function historyRows(db: Database): HistoryRow[] {
  return db.query("SELECT applied_at, kind, table_name, column_name, destructive, description, sql FROM _schema_history ORDER BY id").all() as HistoryRow[];
}

export function columnNames(db: Database, tableName: string): string[] {
  return (db.query("SELECT name FROM pragma_table_info(?)").all(tableName) as { name: string }[]).map((r) => r.name);
}

/** Inserts a row with the built-in columns filled; `values` adds custom columns. */
export function insertRow(db: Database, tableName: string, id: string, values: Record<string, string | number | null> = {}): void {
  const row: Record<string, string | number | null> = { id, created_at: NOW, updated_at: NOW, ...values };
  const names = Object.keys(row);
  db.query(`INSERT INTO "${tableName}" (${names.map((n) => `"${n}"`).join(", ")}) VALUES (${names.map(() => "?").join(", ")})`)
    .run(...names.map((n) => row[n] ?? null));
}
