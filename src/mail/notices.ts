/** Notices: mails that carry no link (only "your password was changed" for now). */
import type { ProjectRuntime } from "../projects/runtime.ts";
import type { StoreOps } from "../storage/store.ts";
import { queueTemplateMail, type MailRecipient } from "./mailer.ts";

/**
 * Queues the "your password was changed" mail through `tx`, the transaction that changes the
 * password (change-password, reset-password), so the notice exists exactly when the change was committed.
 */
export async function queuePasswordChangedEmail(p: ProjectRuntime, tx: Pick<StoreOps, "outbox" | "users">, user: MailRecipient, nowMs: number): Promise<void> {
  await queueTemplateMail(p, tx, { template: "password_changed", user, nowMs });
}
