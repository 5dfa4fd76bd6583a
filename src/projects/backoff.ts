/**
 * Exponential backoff for background loops (mail sender, housekeeping, project loading): after
 * the n-th failure in a row the loop waits `baseMs × 2^(n-1)`, capped at `maxMs`, so a full disk
 * or a read-only database costs one attempt (and one log line) per step, never a busy loop.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export interface Backoff {
  /** Records a failure; returns how long to wait before the next attempt. */
  fail(): number;
  /** Records a success: the next failure starts again at `baseMs`. */
  succeed(): void;
  /** Failures in a row so far. */
  readonly failures: number;
}

export function createBackoff(policy: BackoffPolicy): Backoff {
  let failures = 0;
  return {
    fail(): number {
      failures++;
      return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, failures - 1));
    },
    succeed(): void {
      failures = 0;
    },
    get failures(): number {
      return failures;
    },
  };
}
