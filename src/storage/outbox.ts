/** The mail outbox (SPEC 8): the `outbox` operation group. */
import type { TemplateName } from "../config/types.ts";

export interface OutboxRow {
  readonly id: string;
  readonly template: TemplateName;
  readonly to_addr: string;
  readonly payload: string | null;
  readonly attempts: number;
  readonly next_attempt_at: number;
}

export interface OutboxMessageView {
  readonly id: string;
  readonly template: string;
  readonly status: string;
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly created_at: number;
  readonly last_error: string | null;
}

export interface OutboxOps {
  enqueue(msg: { id: string; template: TemplateName; to: string; payload: string; nowMs: number }): Promise<void>;
  /** Pending messages due at `nowMs`, oldest retry first. */
  due(nowMs: number, limit: number): Promise<OutboxRow[]>;
  /**
   * Counts an attempt before it is made and moves the retry time on, in one conditional step: two
   * senders never both claim one attempt. False when someone else did.
   */
  claim(id: string, attempts: number, retryAtMs: number): Promise<boolean>;
  /**
   * Marks the claimed attempt sent. Only the holder of its claim may: an engine shared by several
   * processes (PostgreSQL) refuses a holder whose claim ran out and was taken over by another
   * sender, and answers false. The SQLite engine (one process per data dir) always marks.
   */
  markSent(id: string, nowMs: number): Promise<boolean>;
  /** Marks the claimed attempt failed for good; same holder rule as `markSent`. */
  markFailed(id: string, nowMs: number, error: string): Promise<boolean>;
  /** Records why the claimed attempt failed (it is retried when its claim runs out); same holder rule. */
  recordError(id: string, error: string): Promise<boolean>;
  /** Earliest retry time of a pending message, or null. */
  nextDueAt(): Promise<number | null>;
  counts(): Promise<{ pending: number; failed: number }>;
  /** Messages not sent, newest first (the admin view). */
  listUnsent(limit: number): Promise<OutboxMessageView[]>;
  /** A failed message's template and address, or null. */
  findFailed(id: string): Promise<{ template: string; to_addr: string } | null>;
  remove(id: string): Promise<void>;
  /** Deletes finished messages older than `beforeMs`. */
  pruneFinished(beforeMs: number): Promise<number>;
}

/** The group's former name, kept while other branches still implement it under that name. */
export type Outbox = OutboxOps;
