/** Reads of the project admin side that belong to no other group (the console's schema page). */

export interface SchemaHistoryRow {
  readonly applied_at: string;
  readonly kind: string;
  readonly table_name: string;
  readonly column_name: string | null;
  readonly destructive: number;
  readonly description: string;
}

export interface AdminOps {
  /** The applied schema changes, newest first. */
  schemaHistory(limit: number): Promise<SchemaHistoryRow[]>;
}
