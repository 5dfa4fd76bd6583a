/**
 * What the planner reads from a live database, whatever the engine: the stored applied model, the
 * live tables, and counts of rows. Synchronous on purpose, so the diff is one plain function that
 * both engines share: SQLite answers directly; PostgreSQL answers from what it fetched beforehand
 * and names the counts it still lacks (see src/storage/postgres/schema.ts).
 */
import type { SqlDialect } from "./dialect.ts";
import type { LiveTable } from "./introspect.ts";
import type { AppliedModel } from "./model.ts";

export interface SchemaReader {
  readonly dialect: SqlDialect;
  /** The stored applied-model snapshot, or null when there is none (or it is unreadable). */
  appliedModel(): AppliedModel | null;
  /** User tables (internal `_` tables left out). */
  liveTables(): ReadonlySet<string>;
  liveTable(name: string): LiveTable | null;
  /** `n` of the one row of a `SELECT count(*) AS n ...`. */
  count(sql: string): number;
  /** Rows of a `SELECT <value> AS v, count(*) AS n ... GROUP BY 1`. */
  valueCounts(sql: string): readonly { v: string; n: number }[];
}
