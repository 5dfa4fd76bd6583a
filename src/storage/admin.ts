/** Reads and steps of the project admin side (console pages, outbox status and retry). */

export interface OutboxMessageRow {
  readonly id: string;
  readonly template: string;
  readonly status: "pending" | "failed";
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly created_at: number;
  /** The provider's error as stored (the caller masks addresses before showing it). */
  readonly last_error: string | null;
}

export interface SchemaHistoryRow {
  readonly applied_at: string;
  readonly kind: string;
  readonly table_name: string;
  readonly column_name: string | null;
  readonly destructive: number;
  readonly description: string;
}

export interface AdminOps {
  /** Messages not sent yet (pending) and failed for good, counted. */
  outboxCounts(): Promise<{ pending: number; failed: number }>;
  /** The newest unsent messages (pending or failed), at most `limit`; never a recipient or payload. */
  outboxMessages(limit: number): Promise<OutboxMessageRow[]>;
  /** A message that failed for good: its template and recipient, or null. */
  failedMessage(id: string): Promise<{ template: string; toAddr: string } | null>;
  /** Removes a message (a failed one, once it was queued again). */
  removeMessage(id: string): Promise<void>;
  /** The applied schema changes, newest first. */
  schemaHistory(limit: number): Promise<SchemaHistoryRow[]>;
  /** Earliest time a pending message is due (null: none pending). */
  nextMailAt(): Promise<number | null>;
}
