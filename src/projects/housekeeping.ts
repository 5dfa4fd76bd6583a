import type { ProjectRuntime } from "./runtime.ts";
import { ENDED_SESSION_RETENTION_MS } from "../storage/sessions.ts";
import { createBackoff, type BackoffPolicy } from "./backoff.ts";
import type { PruneKey, PruneSet } from "../storage/housekeeping.ts";

export const HOUSEKEEPING_EVERY_MS = 3_600_000;
/** First run after a project opens, unless it ran less than an hour ago (then an hour after that run). */
const FIRST_RUN_AFTER_MS = 5_000;
/** After a failure (disk full, read-only database): 30 s, 1 min, 2 min, ... at most the hourly period. */
export const HOUSEKEEPING_ERROR_BACKOFF: BackoffPolicy = { baseMs: 30_000, maxMs: HOUSEKEEPING_EVERY_MS };

/**
 * Rows one housekeeping transaction examines (and so deletes at most). Small on purpose: bun:sqlite
 * is synchronous, so one transaction is also one stretch of time in which no request runs; with
 * 1,000,000 expired refresh tokens the clean-up is many short transactions with the event loop (and
 * every other write) running between them, never one long one. 256 rows write about 1 MiB of WAL
 * at most: on a quiet 2-core machine a window then held the event loop 31–40 ms at the worst (four
 * runs), against 29–89 ms with windows of up to 1,000 rows (bench/RESULTS.md, "Scale at the end of
 * session 4"), and 14–22 ms once the WAL started over after every settle ("Housekeeping again").
 */
export const HOUSEKEEPING_BATCH_ROWS = 256;
/**
 * Time one housekeeping transaction may take (its statements and its COMMIT, which writes the
 * window's pages to the WAL); a slower one halves the next window (down to 16 rows), a
 * quick one doubles it (up to the batch size). Between two transactions the clean-up pauses as
 * long as the last one took (so it never has more than half of the event loop), and longer after
 * windows over the budget: a slow commit means the disk is busy, and each one in a row doubles
 * the pause (up to 4 times the window's time, and HOUSEKEEPING_MAX_PAUSE_MS), so the clean-up's
 * writes back off (to a fifth of the time at most) until the disk keeps up with the users' commits.
 */
export const HOUSEKEEPING_TXN_BUDGET_MS = 8;
export const MIN_WINDOW_ROWS = 16;
const MAX_BACKOFF_DOUBLINGS = 2;
/** The pause after a window, as a multiple of the time it took. */
export const HOUSEKEEPING_PAUSE_FACTOR = 1;
/**
 * The longest pause between two windows: however slow the disk, the clean-up goes on, at least
 * MIN_WINDOW_ROWS rows per window and per second of pause (bench/RESULTS.md has how long
 * 1,000,000 expired tokens and their sessions take).
 */
export const HOUSEKEEPING_MAX_PAUSE_MS = 1_000;
/**
 * Rows looked at between two `settle` calls (the store catches up with what the clean-up wrote:
 * SQLite checkpoints the WAL then). A deleted refresh token writes about one page to the WAL (its
 * entry in the session index sits on a page of its own), so 1,500 rows are about 6 MiB of WAL:
 * the log stays under its 16 MiB size limit and starts over without being truncated.
 */
export const HOUSEKEEPING_SETTLE_ROWS = 1_500;

export interface HousekeepingBatch {
  readonly table: "_refresh_tokens" | "_sessions" | "_refresh_rotated" | "_sessions_unverified" | "_rate_limits" | "_audit";
  /** Rows looked at by this transaction (a window of the primary key; for _audit, the rows deleted). */
  readonly examined: number;
  readonly deleted: number;
  /** How long the transaction held the event loop (its statements and its commit). */
  readonly ms: number;
  /** The pause that follows it (0 after the last one). */
  readonly pauseMs: number;
}

export interface PruneOptions {
  readonly batchRows?: number;
  /** Told about every transaction once it has committed (tests assert on the sizes). */
  readonly onBatch?: (b: HousekeepingBatch) => void;
  /** Stop early (the project is closing). */
  readonly shouldStop?: () => boolean;
  /** Pacing knobs (bench and tests): the time one window may take, and the pause after a window as a multiple of its time. */
  readonly budgetMs?: number;
  readonly pauseFactor?: number;
  /** Off: no longer pauses after windows over their budget (the bench compares both). */
  readonly congestionBackoff?: boolean;
  /** Called after every `settleRows` rows looked at (HOUSEKEEPING_SETTLE_ROWS); resolves when the store has caught up. */
  readonly settle?: () => Promise<void>;
  readonly settleRows?: number;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one clean-up as many short transactions: `step(window)` does one (at most `window` rows)
 * and says whether there is more. The window adapts to the time a transaction takes (see
 * HOUSEKEEPING_TXN_BUDGET_MS), and between two transactions the event loop is free for as long as
 * the last one took, or longer while transactions run over their budget.
 */
export async function inWindows(
  table: HousekeepingBatch["table"],
  opts: PruneOptions,
  step: (window: number) => Promise<{ examined: number; deleted: number; more: boolean }>,
): Promise<number> {
  const batch = opts.batchRows ?? HOUSEKEEPING_BATCH_ROWS;
  const budget = opts.budgetMs ?? HOUSEKEEPING_TXN_BUDGET_MS;
  const factor = opts.pauseFactor ?? HOUSEKEEPING_PAUSE_FACTOR;
  let window = Math.min(batch, 128);
  let slow = 0;
  let total = 0;
  let sinceSettle = 0;
  for (;;) {
    if (opts.shouldStop?.()) return total;
    if (opts.settle && sinceSettle >= (opts.settleRows ?? HOUSEKEEPING_SETTLE_ROWS)) {
      sinceSettle = 0;
      await opts.settle();
    }
    const started = performance.now();
    const r = await step(window);
    sinceSettle += r.examined;
    const took = performance.now() - started;
    total += r.deleted;
    if (took > budget) {
      window = Math.max(MIN_WINDOW_ROWS, Math.floor(window / 2));
      slow++;
    } else {
      slow = 0;
      if (took < budget / 4) window = Math.min(batch, window * 2);
    }
    const backoff = opts.congestionBackoff === false ? 1 : 2 ** Math.min(slow, MAX_BACKOFF_DOUBLINGS);
    const pauseMs = r.more ? Math.min(HOUSEKEEPING_MAX_PAUSE_MS, Math.max(1, Math.ceil(took * factor * backoff))) : 0;
    if (r.examined > 0 || r.deleted > 0) opts.onBatch?.({ table, examined: r.examined, deleted: r.deleted, ms: took, pauseMs });
    if (!r.more) return total;
    await pause(pauseMs);
  }
}

/** Walks a primary key in windows through a store operation ("" sorts before every key). */
function walkKeys(
  table: HousekeepingBatch["table"],
  opts: PruneOptions,
  prune: (after: PruneKey, window: number) => Promise<{ last: PruneKey; examined: number; deleted: number } | null>,
): Promise<number> {
  let after: PruneKey = "";
  return inWindows(table, opts, async (window) => {
    const r = await prune(after, window);
    if (r === null) return { examined: 0, deleted: 0, more: false };
    after = r.last;
    return { examined: r.examined, deleted: r.deleted, more: true };
  });
}

/** The store's `settle` unless the caller gave its own. */
function withSettle(p: ProjectRuntime, opts: PruneOptions): PruneOptions {
  return opts.settle ? opts : { ...opts, settle: () => p.store.housekeeping.settle() };
}

/**
 * Deletes what can no longer authenticate anyone, like `pruneSessions`, but in short transactions:
 * the primary key of each table is walked in windows of `batchRows` rows, each window in its own
 * IMMEDIATE transaction, with the event loop free between two windows. Refresh tokens past their
 * expiry go first, then sessions ended more than 30 days ago and sessions with no usable refresh
 * token whose last access token has expired, then what those sessions leave behind (their tokens,
 * rotation records, unverified marks) and rotation records past their token's expiry.
 */
export async function pruneSessionsInBatches(
  p: ProjectRuntime,
  nowMs: number,
  opts: PruneOptions = {},
): Promise<{ sessions: number; refreshTokens: number }> {
  opts = withSettle(p, opts);
  const accessTtlMs = p.config.auth.accessTokenTtlSeconds * 1000;
  const cutoffs = { nowMs, endedBeforeMs: nowMs - ENDED_SESSION_RETENTION_MS, idleBeforeMs: nowMs - accessTtlMs };
  const walk = (table: HousekeepingBatch["table"], set: PruneSet): Promise<number> =>
    walkKeys(table, opts, (a, w) => p.store.housekeeping.pruneWindow(set, a, w, cutoffs));
  const refreshTokens = await walk("_refresh_tokens", "expiredRefreshTokens");
  const sessions = await walk("_sessions", "endedSessions");
  // Tokens of the sessions just deleted (revoked or rotated ones they still had).
  const orphans = await walk("_refresh_tokens", "orphanRefreshTokens");
  const rotated = await walk("_refresh_rotated", "rotatedRecords");
  await walk("_sessions_unverified", "unverifiedMarks");
  return { sessions, refreshTokens: refreshTokens + orphans + rotated };
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
  opts = withSettle(p, opts);
  const removed = await pruneSessionsInBatches(p, nowMs, opts);
  const rateLimitCounters = await walkKeys("_rate_limits", opts, (a, w) => p.store.rateLimits.pruneWindow(nowMs, typeof a === "string" ? a : "", w));
  const auditBefore = nowMs - p.config.audit.retentionSeconds * 1000;
  const auditRows = await inWindows("_audit", opts, async (window) => {
    const deleted = await p.store.audit.pruneOldest(auditBefore, window);
    return { examined: deleted, deleted, more: deleted === window };
  });
  return { ...removed, rateLimitCounters, auditRows };
}

/**
 * The background jobs of one open project (issue 9: housekeeping, the mail sender's passes) share
 * one scheduler and so one timer: each job says when it wants to run next, the timer is armed for
 * the earliest, and stopping the project (closing, reload, shutdown) cancels them all at once. The
 * timer never keeps the process alive.
 */
export interface ProjectScheduler {
  /** Runs `fn` once, `ms` from now; a job scheduled again replaces its earlier time. */
  at(job: string, ms: number, fn: () => void): void;
  cancel(job: string): void;
  /** Names of the jobs waiting to run (tests, metrics). */
  pending(): string[];
  /** Cancels every job; later `at` calls are ignored. */
  stop(): void;
}

/** setTimeout's longest delay: a job further away is looked at again then. */
const MAX_TIMER_MS = 2_147_000_000;

export function createProjectScheduler(): ProjectScheduler {
  const jobs = new Map<string, { dueAt: number; fn: () => void }>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerAt = Infinity;
  let stopped = false;
  const arm = (): void => {
    let next = Infinity;
    for (const j of jobs.values()) next = Math.min(next, j.dueAt);
    if (next === timerAt) return;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    timerAt = next;
    if (next === Infinity) return;
    timer = setTimeout(fire, Math.min(MAX_TIMER_MS, Math.max(0, next - performance.now())));
    timer.unref?.();
  };
  function fire(): void {
    timer = null;
    timerAt = Infinity;
    const now = performance.now();
    const due = [...jobs].filter(([, j]) => j.dueAt <= now).sort((a, b) => a[1].dueAt - b[1].dueAt);
    for (const [name] of due) jobs.delete(name);
    for (const [, j] of due) {
      if (stopped) return;
      try {
        j.fn();
      } catch {
        // each job reports its own failures; one that throws must not stop the others
      }
    }
    if (!stopped) arm();
  }
  return {
    at(job, ms, fn) {
      if (stopped) return;
      jobs.set(job, { dueAt: performance.now() + Math.max(0, ms), fn });
      arm();
    },
    cancel(job) {
      if (jobs.delete(job)) arm();
    },
    pending: () => [...jobs.keys()],
    stop() {
      stopped = true;
      jobs.clear();
      if (timer !== null) clearTimeout(timer);
      timer = null;
      timerAt = Infinity;
    },
  };
}

const schedulers = new WeakMap<object, ProjectScheduler>();

/** The scheduler of an open project, created on first use and stopped when the project closes. */
export function schedulerOf(p: Pick<ProjectRuntime, "onClose">): ProjectScheduler {
  let s = schedulers.get(p);
  if (!s) {
    const created = createProjectScheduler();
    s = created;
    schedulers.set(p, created);
    p.onClose(() => created.stop());
  }
  return s;
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
 * (one log line per attempt). Its timer is the project's scheduler (see ProjectScheduler).
 */
export function startHousekeeping(p: ProjectRuntime, opts: HousekeepingOptions = {}): void {
  const state = opts.state ?? { lastRunMs: -Infinity };
  const everyMs = opts.everyMs ?? HOUSEKEEPING_EVERY_MS;
  const backoff = createBackoff(opts.errorBackoff ?? HOUSEKEEPING_ERROR_BACKOFF);
  let stopped = false;
  let running: Promise<void> | null = null;
  const scheduler = schedulerOf(p);
  const arm = (ms: number): void => {
    if (stopped) return;
    scheduler.at("housekeeping", ms, run);
  };
  function run(): void {
    if (stopped || running) return;
    state.lastRunMs = p.deps.now();
    const started = performance.now();
    let windows = 0;
    let longestWindowMs = 0;
    const onBatch = (b: HousekeepingBatch): void => {
      windows++;
      longestWindowMs = Math.max(longestWindowMs, b.ms);
    };
    running = runHousekeeping(p, { shouldStop: () => stopped, onBatch })
      .then((removed) => {
        backoff.succeed();
        if (removed.sessions || removed.refreshTokens || removed.rateLimitCounters || removed.auditRows) {
          p.log.info("housekeeping", {
            removed_sessions: removed.sessions,
            removed_refresh_tokens: removed.refreshTokens,
            removed_rate_limit_counters: removed.rateLimitCounters,
            removed_audit_rows: removed.auditRows,
            // The longest time one window held the event loop (every request waited for it).
            windows,
            longest_window_ms: Math.round(longestWindowMs * 10) / 10,
            duration_ms: Math.round(performance.now() - started),
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
  arm(opts.firstRunAfterMs ?? Math.max(FIRST_RUN_AFTER_MS, state.lastRunMs + everyMs - p.deps.now()));
  p.onClose(async () => {
    stopped = true;
    scheduler.cancel("housekeeping");
    await running;
  });
}

