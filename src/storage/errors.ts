/**
 * Errors the store throws the same way whatever the engine, so services map them without knowing
 * SQLite's or PostgreSQL's codes.
 */

/**
 * Which rule a write broke: a unique index (a duplicate), a NOT NULL column, a reference to a
 * missing row, or a CHECK / type rule (a value the column does not accept).
 */
export type ConstraintKind = "unique" | "not_null" | "foreign_key" | "check";

/**
 * A write to a declared table (the auth table) refused by a constraint. Uniqueness is decided by
 * the database (a pre-check would race), so `unique` is the normal path for a duplicate. `columns`
 * names the declared columns involved, in order (may be empty); the engine's own error is the cause
 * (logged, never serialized: it may hold the offending value).
 */
export class StoreConstraintError extends Error {
  override readonly name = "StoreConstraintError";
  constructor(
    readonly kind: ConstraintKind,
    readonly table: string,
    readonly columns: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${kind} constraint failed on ${table}${columns.length > 0 ? ` (${columns.join(", ")})` : ""}`, options);
  }
}
