/** The audit log (SPEC 12): `_audit` rows, newest first by id. */

export interface AuditRow {
  readonly at: number;
  readonly type: string;
  readonly userId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditEvent {
  id: number;
  type: string;
  at: string;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  readonly userId?: string;
  readonly type?: string;
  readonly sinceMs?: number;
  /** Only rows with an id below this one (the cursor). */
  readonly beforeId?: number;
  readonly limit: number;
}

export interface AuditOps {
  /** Appends one row (in the caller's transaction when it runs inside one). */
  append(row: AuditRow): Promise<void>;
  /** Newest first, by id; `beforeId` is the keyset cursor. */
  list(q: AuditQuery): Promise<AuditEvent[]>;
  /** Deletes rows older than `beforeMs`; returns how many. */
  prune(beforeMs: number): Promise<number>;
  /**
   * Deletes at most `limit` of the oldest rows older than `beforeMs` (through the index on `at`), in
   * one short transaction; returns how many. Housekeeping calls it until it returns less than `limit`.
   */
  pruneOldest(beforeMs: number, limit: number): Promise<number>;
}

