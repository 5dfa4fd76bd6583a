import type { ProjectRuntime } from "./runtime.ts";
import { pruneSessions } from "../modules/session/sessions.ts";
import { pruneAudit } from "../modules/audit/query.ts";

const HOUSEKEEPING_EVERY_MS = 3_600_000;

/**
 * Hourly clean-up of a project's session tables (the mail sender cleans the outbox and link
 * tokens on its own). Runs once shortly after start; the timer never keeps the process alive.
 */
export function startHousekeeping(p: ProjectRuntime): void {
  const run = (): void => runHousekeeping(p);
  const first = setTimeout(run, 5_000);
  const every = setInterval(run, HOUSEKEEPING_EVERY_MS);
  first.unref?.();
  every.unref?.();
  p.onClose(() => {
    clearTimeout(first);
    clearInterval(every);
  });
}

/** One pass of housekeeping; never throws (a failure is logged and retried at the next pass). */
export function runHousekeeping(p: ProjectRuntime): void {
  try {
    const removed = pruneSessions(p, p.deps.now());
    if (removed.sessions || removed.refreshTokens) p.log.info("housekeeping", { removed_sessions: removed.sessions, removed_refresh_tokens: removed.refreshTokens });
    // audit.retention (SPEC 12): older audit rows go.
    const auditRows = pruneAudit(p, p.deps.now());
    if (auditRows) p.log.info("housekeeping", { removed_audit_rows: auditRows });
  } catch (e) {
    p.log.warn("housekeeping failed; it is retried in an hour", { error: e instanceof Error ? e.message : String(e) });
  }
}
