/** The batched clean-up of the session tables (src/projects/housekeeping.ts drives it). */

/**
 * What one window deletes:
 * - `expiredRefreshTokens`: refresh tokens past their expiry;
 * - `endedSessions`: sessions ended before `endedBeforeMs`, and live sessions with no usable
 *   refresh token whose last use (and so their last access token) is before `idleBeforeMs`;
 * - `orphanRefreshTokens`: refresh tokens whose session is gone.
 */
export type PruneSet = "expiredRefreshTokens" | "endedSessions" | "orphanRefreshTokens";

export interface PruneCutoffs {
  readonly nowMs: number;
  readonly endedBeforeMs: number;
  readonly idleBeforeMs: number;
}

export interface HousekeepingOps {
  /**
   * One short transaction: looks at the next `windowRows` rows of the set's table after `afterKey`
   * (primary-key order; "" = from the start) and deletes those of the set. Null when no row is left.
   * Rows deleted here can no longer authenticate anyone, so an engine may commit without waiting
   * for durability (SQLite: synchronous=NORMAL for this transaction only).
   */
  pruneWindow(set: PruneSet, afterKey: string, windowRows: number, cutoffs: PruneCutoffs): Promise<{ last: string; examined: number; deleted: number } | null>;
}
