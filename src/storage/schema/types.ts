/** Public shapes of a schema migration plan (what `latchkey check` prints and boot applies). */

export type SchemaChangeKind =
  | "create_table"
  | "adopt_table"
  | "forget_table"
  | "drop_table"
  | "add_column"
  | "add_required_column"
  | "drop_column"
  | "change_type"
  | "change_column"
  | "narrow_enum"
  | "widen_enum"
  | "change_reference"
  | "add_index"
  | "drop_index"
  | "schema_drift"
  | "foreign_table";

export interface SchemaChange {
  readonly kind: SchemaChangeKind;
  readonly table: string;
  readonly column?: string;
  /** Needs `confirm_destructive: true`: data may be lost or rewritten. */
  readonly destructive: boolean;
  /** Cannot be applied even with `confirm_destructive: true`; the description says what to fix. */
  readonly conflict: boolean;
  /** Human text, e.g. "drop column notes.body (12 rows have a value)". */
  readonly description: string;
}

export interface SchemaPlan {
  /** In the order they are applied. */
  readonly changes: readonly SchemaChange[];
  readonly destructive: readonly SchemaChange[];
  readonly conflicts: readonly SchemaChange[];
  /** conflicts.length > 0 || (destructive.length > 0 && the confirmation does not cover them) */
  readonly blocked: boolean;
  /** Short hash of the destructive changes (see plan-id.ts); null when there are none. */
  readonly planId: string | null;
  /** What the confirmation did, when there is something to say (a refused id, a deprecated `true`). */
  readonly confirmNote: string | null;
}

export interface PlanOptions {
  /** `confirm_destructive:` false, a plan id, or the deprecated `true`. */
  readonly confirmDestructive: boolean | string;
  /**
   * The plan id a `true` already confirmed, when the file has said `true` ever since: a `true`
   * confirms one destructive plan only, so it cannot wave a later one through.
   */
  readonly trueSpentOn?: string | null;
}

export interface ApplyOptions extends PlanOptions {
  /** Injected clock: recorded in _schema_history and used to fill "now" values into existing rows. */
  readonly nowIso: string;
  /**
   * Called once, outside any transaction, just before an allowed plan with destructive changes is
   * applied (the server writes its automatic backup here). If it throws, nothing is applied.
   */
  readonly beforeDestructive?: (plan: SchemaPlan) => void;
}
