import type { ProjectRuntime } from "./runtime.ts";
import { pruneSessions } from "../modules/session/sessions.ts";

const HOUSEKEEPING_EVERY_MS = 3_600_000;

/** One pass: sessions and refresh tokens, and rate-limit counters whose window has ended. */
export function runHousekeeping(p: ProjectRuntime): { sessions: number; refreshTokens: number; rateLimitCounters: number } {
  const nowMs = p.deps.now();
  const removed = pruneSessions(p, nowMs);
  return { ...removed, rateLimitCounters: p.rateLimiter.prune(nowMs) };
}

/**
 * Hourly clean-up of a project's session tables and rate-limit counters (the mail sender cleans
 * the outbox and link tokens on its own). Runs once shortly after start; the timer never keeps
 * the process alive.
 */
export function startHousekeeping(p: ProjectRuntime): void {
  const run = (): void => {
    try {
      const removed = runHousekeeping(p);
      if (removed.sessions || removed.refreshTokens || removed.rateLimitCounters) {
        p.log.info("housekeeping", {
          removed_sessions: removed.sessions,
          removed_refresh_tokens: removed.refreshTokens,
          removed_rate_limit_counters: removed.rateLimitCounters,
        });
      }
    } catch (e) {
      p.log.warn("housekeeping failed; it is retried in an hour", { error: e instanceof Error ? e.message : String(e) });
    }
  };
  const first = setTimeout(run, 5_000);
  const every = setInterval(run, HOUSEKEEPING_EVERY_MS);
  first.unref?.();
  every.unref?.();
  p.onClose(() => {
    clearTimeout(first);
    clearInterval(every);
  });
}
