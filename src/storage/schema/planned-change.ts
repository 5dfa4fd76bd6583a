/** The planner's internal form of a change: the public SchemaChange plus how and when to apply it. */
import type { SchemaChange } from "./types.ts";

/** Apply order: indexes go before the columns they cover change, new indexes after. */
export const PHASE = {
  dropIndex: 0,
  createTable: 1,
  columns: 2,
  addIndex: 3,
  dropTable: 4,
  bookkeeping: 5,
} as const;
export type Phase = (typeof PHASE)[keyof typeof PHASE];

export interface PlannedChange {
  readonly change: SchemaChange;
  readonly phase: Phase;
  /** Statements to run, given the apply clock; empty when only the snapshot changes. */
  readonly sql: (nowIso: string) => string[];
  /** Recorded in _schema_history instead of SQL when `sql` yields nothing. */
  readonly historyNote?: string;
}

export const NO_SQL = (): string[] => [];

export function change(
  fields: Omit<SchemaChange, "destructive" | "conflict"> & { destructive?: boolean; conflict?: boolean },
): SchemaChange {
  return { ...fields, destructive: fields.destructive ?? false, conflict: fields.conflict ?? false };
}

/** "1 row" / "3 rows", for change descriptions. */
export function rowsText(count: number): string {
  return count === 1 ? "1 row" : `${count} rows`;
}
