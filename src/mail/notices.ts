/** Notices: mails that carry no link (only "your password was changed" for now). */
import type { ProjectRuntime } from "../projects/runtime.ts";
import { queueTemplateMail, type MailRecipient } from "./mailer.ts";

/**
 * Queues the "your password was changed" mail. Synchronous, no await: call it inside the
 * transaction that changes the password (change-password, reset-password), so the notice exists
 * exactly when the change was committed.
 */
export function queuePasswordChangedEmail(p: ProjectRuntime, user: MailRecipient, nowMs: number): void {
  queueTemplateMail(p, { template: "password_changed", user, nowMs });
}
