/**
 * What differs between the engines in the DDL the planner writes: column type names, table
 * options and how a random uuid is made in SQL. Everything else (the model, the diff, the plan, its
 * id) is the same for every engine.
 */
import type { SqlType } from "../../config/column-types.ts";
import { quoteIdent, sqlString } from "./sql-text.ts";

export interface SqlDialect {
  readonly engine: "sqlite" | "postgres";
  /** The engine's type for a model SQL type (also the target of a CAST). */
  columnType(type: SqlType): string;
  /** Appended to CREATE TABLE (SQLite: ` STRICT`). */
  readonly tableOptions: string;
  /** An expression giving a new random UUID v4 as text, per row. */
  readonly uuidSql: string;
  /**
   * Statements around a table rebuild's DROP of the old table: `beforeDrop` runs just before it,
   * `afterRename` once the new table has the old name. SQLite needs none (foreign keys are off and
   * refer to tables by name); PostgreSQL moves the other tables' foreign keys to the new table.
   */
  rebuildHooks(table: string): { readonly beforeDrop: readonly string[]; readonly afterRename: readonly string[] };
}

export const SQLITE_DIALECT: SqlDialect = {
  engine: "sqlite",
  columnType: (type) => type,
  tableOptions: " STRICT",
  rebuildHooks: () => ({ beforeDrop: [], afterRename: [] }),
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
  // Other tables' foreign keys point at the old table by identity, so DROP TABLE would refuse (or,
  // with CASCADE, silently lose them): remember them, drop them with the table, and add them back
  // (by name, now the rebuilt table) in the same transaction.
  rebuildHooks: (table) => {
    const name = sqlString(quoteIdent(table));
    return {
      beforeDrop: [
        `CREATE TEMP TABLE "_latchkey_moved_fks" ON COMMIT DROP AS SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def ` +
          `FROM pg_constraint WHERE contype = 'f' AND confrelid = ${name}::regclass AND conrelid <> ${name}::regclass`,
        `DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM "_latchkey_moved_fks" LOOP ` +
          `EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname); END LOOP; END $$`,
      ],
      afterRename: [
        `DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM "_latchkey_moved_fks" LOOP ` +
          `EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.rel, r.conname, r.def); END LOOP; END $$`,
        `DROP TABLE "_latchkey_moved_fks"`,
      ],
    };
  },
};
