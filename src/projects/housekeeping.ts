import type { ProjectRuntime } from "./runtime.ts";
import { ENDED_SESSION_RETENTION_MS } from "../storage/sessions.ts";
import { createBackoff, type BackoffPolicy } from "./backoff.ts";
import type { PruneSet } from "../storage/housekeeping.ts";

export const HOUSEKEEPING_EVERY_MS = 3_600_000;
/** First run after a project opens, unless it ran less than an hour ago (then an hour after that run). */
const FIRST_RUN_AFTER_MS = 5_000;
/** After a failure (disk full, read-only database): 30 s, 1 min, 2 min, ... at most the hourly period. */
export const HOUSEKEEPING_ERROR_BACKOFF: BackoffPolicy = { baseMs: 30_000, maxMs: HOUSEKEEPING_EVERY_MS };

/**
 * Rows one housekeeping transaction examines (and so deletes at most). Small on purpose: bun:sqlite
 * is synchronous, so one transaction is also one stretch of time in which no request runs; with
 * 1,000,000 expired refresh tokens the clean-up is many short transactions with the event loop (and
 * every other write) running between them, never one long one.
 */
export const HOUSEKEEPING_BATCH_ROWS = 1_000;
/**
 * Time one housekeeping transaction may take; a slower one halves the next window (down to 16
 * rows), a quick one doubles it (up to the batch size). Between two transactions the clean-up
 * pauses as long as the last one took, so it never has more than half of the event loop.
 */
export const HOUSEKEEPING_TXN_BUDGET_MS = 8;
const MIN_WINDOW_ROWS = 16;

export interface HousekeepingBatch {
  readonly table: "_refresh_tokens" | "_sessions";
  /** Rows looked at by this transaction (a window of the primary key). */
  readonly examined: number;
  readonly deleted: number;
}

export interface PruneOptions {
  readonly batchRows?: number;
  /** Told about every transaction once it has committed (tests assert on the sizes). */
  readonly onBatch?: (b: HousekeepingBatch) => void;
  /** Stop early (the project is closing). */
  readonly shouldStop?: () => boolean;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Deletes what can no longer authenticate anyone, like `pruneSessions`, but in short transactions:
 * the primary key of each table is walked in windows of `batchRows` rows, each window in its own
 * IMMEDIATE transaction, with the event loop free between two windows. Refresh tokens past their
 * expiry go first, then sessions ended more than 30 days ago and sessions with no usable refresh
 * token whose last access token has expired, then the tokens those sessions leave behind.
 */
export async function pruneSessionsInBatches(
  p: ProjectRuntime,
  nowMs: number,
  opts: PruneOptions = {},
): Promise<{ sessions: number; refreshTokens: number }> {
  const batch = opts.batchRows ?? HOUSEKEEPING_BATCH_ROWS;
  const stop = opts.shouldStop ?? ((): boolean => false);
  const accessTtlMs = p.config.auth.accessTokenTtlSeconds * 1000;

  const cutoffs = { nowMs, endedBeforeMs: nowMs - ENDED_SESSION_RETENTION_MS, idleBeforeMs: nowMs - accessTtlMs };

  const walk = async (set: PruneSet, table: HousekeepingBatch["table"]): Promise<number> => {
    let after = "";
    let total = 0;
    let window = Math.min(batch, 128);
    for (;;) {
      if (stop()) return total;
      const started = performance.now();
      const step = await p.store.housekeeping.pruneWindow(set, after, window, cutoffs);
      if (step === null) return total;
      total += step.deleted;
      opts.onBatch?.({ table, examined: step.examined, deleted: step.deleted });
      after = step.last;
      const took = performance.now() - started;
      if (took > HOUSEKEEPING_TXN_BUDGET_MS) window = Math.max(MIN_WINDOW_ROWS, Math.floor(window / 2));
      else if (took < HOUSEKEEPING_TXN_BUDGET_MS / 4) window = Math.min(batch, window * 2);
      await pause(Math.max(1, Math.ceil(took)));
    }
  };

  const refreshTokens = await walk("expiredRefreshTokens", "_refresh_tokens");
  const sessions = await walk("endedSessions", "_sessions");
  // Tokens of the sessions just deleted (revoked or rotated ones they still had).
  await walk("orphanRefreshTokens", "_refresh_tokens");
  return { sessions, refreshTokens };
}

/** When a project last had its housekeeping, kept across the closings and reopenings of the project. */
export interface HousekeepingState {
  lastRunMs: number;
}

/**
 * One pass: sessions and refresh tokens (in batches, see `pruneSessionsInBatches`), rate-limit
 * counters whose window has ended, and audit rows older than `audit.retention`. Throws on a
 * storage failure (the scheduler backs off).
 */
export async function runHousekeeping(
  p: ProjectRuntime,
  opts: PruneOptions = {},
): Promise<{ sessions: number; refreshTokens: number; rateLimitCounters: number; auditRows: number }> {
  const nowMs = p.deps.now();
  const removed = await pruneSessionsInBatches(p, nowMs, opts);
  if (opts.shouldStop?.()) return { ...removed, rateLimitCounters: 0, auditRows: 0 };
  const rateLimitCounters = await p.store.rateLimits.prune(nowMs);
  // Audit rows older than `audit.retention` (SPEC 12).
  return { ...removed, rateLimitCounters, auditRows: await p.store.audit.prune(nowMs - p.config.audit.retentionSeconds * 1000) };
}

export interface HousekeepingOptions {
  readonly firstRunAfterMs?: number;
  readonly everyMs?: number;
  readonly errorBackoff?: BackoffPolicy;
  /** When it last ran, kept by the pool across the closings and reopenings of the project. */
  readonly state?: HousekeepingState;
}

/**
 * Hourly clean-up of a project's session tables, rate-limit counters and audit rows while it is
 * open (the mail sender cleans the outbox and link tokens on its own). Runs shortly after the
 * project opens unless it ran within the hour; a failed run is retried with exponential backoff
 * (one log line per attempt). The timers never keep the process alive.
 */
export function startHousekeeping(p: ProjectRuntime, opts: HousekeepingOptions = {}): void {
  const state = opts.state ?? { lastRunMs: -Infinity };
  const everyMs = opts.everyMs ?? HOUSEKEEPING_EVERY_MS;
  const backoff = createBackoff(opts.errorBackoff ?? HOUSEKEEPING_ERROR_BACKOFF);
  let stopped = false;
  let running: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const arm = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(run, ms);
    timer.unref?.();
  };
  function run(): void {
    timer = null;
    if (stopped || running) return;
    state.lastRunMs = Date.now();
    running = runHousekeeping(p, { shouldStop: () => stopped })
      .then((removed) => {
        backoff.succeed();
        if (removed.sessions || removed.refreshTokens || removed.rateLimitCounters || removed.auditRows) {
          p.log.info("housekeeping", {
            removed_sessions: removed.sessions,
            removed_refresh_tokens: removed.refreshTokens,
            removed_rate_limit_counters: removed.rateLimitCounters,
            removed_audit_rows: removed.auditRows,
          });
        }
        arm(everyMs);
      })
      .catch((e: unknown) => {
        if (stopped) return;
        const retryInMs = backoff.fail();
        p.log.warn("housekeeping failed; will retry", { error: e instanceof Error ? e.message : String(e), attempt: backoff.failures, retry_in_ms: retryInMs });
        arm(retryInMs);
      })
      .finally(() => {
        running = null;
      });
  }
  arm(opts.firstRunAfterMs ?? Math.max(FIRST_RUN_AFTER_MS, state.lastRunMs + everyMs - Date.now()));
  p.onClose(async () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    await running;
  });
}

