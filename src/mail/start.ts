import type { ProjectRuntime } from "../projects/runtime.ts";
import { describeError, startOutboxSender, type SenderOptions } from "./sender.ts";

/**
 * Starts each project's background outbox sender and registers its stop on the project's close,
 * so a shutdown lets an in-flight send finish before the database closes. A provider that
 * implements `verify()` is checked once; a failure is logged, never fatal (the outbox retries).
 */
export function startMailSenders(
  projects: readonly ProjectRuntime[],
  opts: SenderOptions = {},
  /** Mail configurations already checked: a fleet sharing one SMTP server checks it once, not per project or per reopening. */
  verified?: Set<string>,
): void {
  for (const p of projects) {
    const sender = startOutboxSender(p, opts);
    p.onClose(() => sender.stop());
    if (verified) {
      const key = JSON.stringify(p.config.mail.provider);
      if (verified.has(key)) continue;
      verified.add(key);
    }
    p.mailProvider.verify?.().catch((e: unknown) => {
      p.log.warn("mail provider check failed; messages stay queued and are retried", { provider: p.mailProvider.id, error: describeError(e, []) });
    });
  }
}
