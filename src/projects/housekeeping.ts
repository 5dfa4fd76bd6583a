import type { ProjectRuntime } from "./runtime.ts";
import { pruneSessions } from "../modules/session/sessions.ts";
import { createBackoff, type BackoffPolicy } from "./backoff.ts";
import { pruneAudit } from "../modules/audit/query.ts";

const HOUSEKEEPING_EVERY_MS = 3_600_000;
const FIRST_RUN_AFTER_MS = 5_000;
/** After a failure (disk full, read-only database): 30 s, 1 min, 2 min, ... at most the hourly period. */
export const HOUSEKEEPING_ERROR_BACKOFF: BackoffPolicy = { baseMs: 30_000, maxMs: HOUSEKEEPING_EVERY_MS };

export interface HousekeepingOptions {
  readonly firstRunAfterMs?: number;
  readonly everyMs?: number;
  readonly errorBackoff?: BackoffPolicy;
}

/**
 * One pass: sessions and refresh tokens, rate-limit counters whose window has ended, and audit
 * rows older than `audit.retention`. Throws on a storage failure (the scheduler backs off).
 */
export function runHousekeeping(p: ProjectRuntime): { sessions: number; refreshTokens: number; rateLimitCounters: number; auditRows: number } {
  const nowMs = p.deps.now();
  const removed = pruneSessions(p, nowMs);
  return { ...removed, rateLimitCounters: p.rateLimiter.prune(nowMs), auditRows: pruneAudit(p, nowMs) };
}

/**
 * Hourly clean-up of a project's session tables, rate-limit counters and audit rows (the mail sender cleans
 * the outbox and link tokens on its own). Runs once shortly after start; a failed run is retried
 * with exponential backoff (one log line per attempt). The timer never keeps the process alive.
 */
export function startHousekeeping(p: ProjectRuntime, opts: HousekeepingOptions = {}): void {
  const everyMs = opts.everyMs ?? HOUSEKEEPING_EVERY_MS;
  const backoff = createBackoff(opts.errorBackoff ?? HOUSEKEEPING_ERROR_BACKOFF);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const arm = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(run, ms);
    timer.unref?.();
  };
  function run(): void {
    timer = null;
    if (stopped) return;
    try {
      const removed = runHousekeeping(p);
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
    } catch (e) {
      const retryInMs = backoff.fail();
      p.log.warn("housekeeping failed; will retry", { error: e instanceof Error ? e.message : String(e), attempt: backoff.failures, retry_in_ms: retryInMs });
      arm(retryInMs);
    }
  }
  arm(opts.firstRunAfterMs ?? FIRST_RUN_AFTER_MS);
  p.onClose(() => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
  });
}

