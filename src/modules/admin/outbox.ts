/**
 * Outbox status and retry for operators (console). A message that failed for good has had its
 * payload dropped (SPEC 8 rule kept: no personal data or link lingers), so a retry cannot resend
 * the same bytes: it queues the same kind of message again through the service that wrote it
 * (a fresh verification link, a fresh reset link, the password-changed notice), then removes the
 * failed row. Messages about data that is gone (email change, account deleted) cannot be rebuilt.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { parseEmail } from "../../users/email.ts";
import { queuePasswordChangedMail, queueResetMail, queueVerificationMail } from "../../mail/events.ts";
import type { OutboxMessageView as StoredMessageView } from "../../storage/outbox.ts";

export type RetryMailDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const RETRIABLE_TEMPLATES: ReadonlySet<string> = new Set(["verify_email", "reset_password", "password_changed"]);
const EMAIL_RE = /[^\s@<>"']+@[^\s@<>"']+/g;

/** An unsent message as operators see it: the provider's error with any address masked, never the recipient. */
export interface OutboxMessageView extends StoredMessageView {
  readonly status: "pending" | "failed";
}

export async function outboxStatus(p: Pick<ProjectRuntime, "store">, limit = 100): Promise<{ pending: number; failed: number; messages: OutboxMessageView[] }> {
  const counts = await p.store.outbox.counts();
  const rows = (await p.store.outbox.listUnsent(limit)) as OutboxMessageView[];
  return { ...counts, messages: rows.map((m) => ({ ...m, last_error: m.last_error === null ? null : m.last_error.replace(EMAIL_RE, "[address]") })) };
}

/** Queues a failed message again (see above). `redirectUrl` is needed for reset_password (already validated). */
export async function retryFailedMessage(p: RetryMailDeps, rawId: string, redirectUrl: string | null, client: ClientMeta): Promise<void> {
  if (!UUID_RE.test(rawId)) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "id", message: "The message id must be a UUID." });
  const id = rawId.toLowerCase();
  const nowMs = p.deps.now();
  const template = await p.store.transaction(async (tx): Promise<string> => {
    const row = await tx.outbox.findFailed(id);
    if (!row) throw new ApiError("NOT_FOUND", { message: "No failed message with that id." });
    if (!RETRIABLE_TEMPLATES.has(row.template)) {
      throw new ApiError("CONFLICT", { message: `A failed ${row.template} message cannot be rebuilt: what it was about is gone.` });
    }
    const parsed = parseEmail(row.to_addr);
    const user = parsed.ok ? await tx.users.findByCanonicalEmail(parsed.canonical) : null;
    if (!user) throw new ApiError("CONFLICT", { message: "The recipient is no longer a user of this project." });
    const recipient = { id: user.id, email: user.email };
    if (row.template === "verify_email") {
      if (user.email_verified) throw new ApiError("CONFLICT", { message: "The user's email is already verified." });
      await queueVerificationMail(p, tx, recipient, nowMs);
    } else if (row.template === "reset_password") {
      if (redirectUrl === null) throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "redirect_url", message: "A reset link needs the URL it goes to." });
      await queueResetMail(p, tx, recipient, redirectUrl, nowMs);
    } else {
      await queuePasswordChangedMail(p, tx, recipient, nowMs);
    }
    await tx.outbox.remove(id);
    return row.template;
    });
  p.log.event("admin.mail_retried", { template, outbox_id: id, ...eventFields(client) });
}
