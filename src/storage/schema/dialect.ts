/**
 * What differs between the engines in the DDL the planner writes: column type names, table
 * options and how a random uuid is made in SQL. Everything else (the model, the diff, the plan, its
 * id) is the same for every engine.
 */
import type { SqlType } from "../../config/column-types.ts";

export interface SqlDialect {
  readonly engine: "sqlite" | "postgres";
  /** The engine's type for a model SQL type (also the target of a CAST). */
  columnType(type: SqlType): string;
  /** Appended to CREATE TABLE (SQLite: ` STRICT`). */
  readonly tableOptions: string;
  /** An expression giving a new random UUID v4 as text, per row. */
  readonly uuidSql: string;
}

export const SQLITE_DIALECT: SqlDialect = {
  engine: "sqlite",
  columnType: (type) => type,
  tableOptions: " STRICT",
  uuidSql:
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || " +
    "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))",
};

/**
 * PostgreSQL keeps the values SQLite holds (integers as BIGINT, bool as 0/1 with a CHECK, times
 * as ISO text or integer milliseconds), so one service layer reads both engines the same way.
 */
const PG_TYPES: Record<SqlType, string> = { TEXT: "TEXT", INTEGER: "BIGINT", REAL: "DOUBLE PRECISION" };
export const POSTGRES_DIALECT: SqlDialect = {
  engine: "postgres",
  columnType: (type) => PG_TYPES[type],
  tableOptions: "",
  uuidSql: "gen_random_uuid()::text",
};
