/** The batched clean-up of the session tables (src/projects/housekeeping.ts drives it). */

/**
 * What one window deletes:
 * - `expiredRefreshTokens`: refresh tokens past their expiry;
 * - `endedSessions`: sessions ended before `endedBeforeMs`, and live sessions with no usable
 *   refresh token whose last use (and so their last access token) is before `idleBeforeMs`;
 * - `orphanRefreshTokens`: refresh tokens whose session is gone;
 * - `rotatedRecords`: compact records of rotated tokens past their expiry or whose session is gone;
 * - `unverifiedMarks`: marks of sessions opened before verification whose session is gone.
 */
export type PruneSet = "expiredRefreshTokens" | "endedSessions" | "orphanRefreshTokens" | "rotatedRecords" | "unverifiedMarks";

/** A primary key where a window walk stands: text keys, or the 16-byte tags of rotation records. */
export type PruneKey = string | Uint8Array;

export interface PruneCutoffs {
  readonly nowMs: number;
  readonly endedBeforeMs: number;
  readonly idleBeforeMs: number;
}

export interface HousekeepingOps {
  /**
   * One short transaction: looks at the next `windowRows` rows of the set's table after `afterKey`
   * (primary-key order; "" = from the start, which sorts before every text and blob key) and deletes those of the set. Null when no row is left.
   * Rows deleted here can no longer authenticate anyone, so an engine may commit without waiting
   * for durability (SQLite: synchronous=NORMAL for this transaction only).
   */
  pruneWindow(set: PruneSet, afterKey: PruneKey, windowRows: number, cutoffs: PruneCutoffs): Promise<{ last: PruneKey; examined: number; deleted: number } | null>;
  /**
   * Called by the clean-up after every HOUSEKEEPING_SETTLE_ROWS rows it looked at: resolves once
   * the engine has caught up with what was written, so a long clean-up never writes faster than
   * the engine's background work drains. SQLite: the checkpoint thread copies the WAL into the
   * database now (src/storage/sqlite/checkpointer.ts, drainWal). PostgreSQL: at once.
   */
  settle(): Promise<void>;
}
