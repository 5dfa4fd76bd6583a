/**
 * One method per mail event. Each decides its template, its variables and its link (issuing the
 * link token when the mail carries one), and writes the message through `tx`, the caller's
 * transaction, so the message exists exactly when the change it talks about was committed.
 * Services call these, never the generic `queueTemplateMail`.
 */
import type { ProjectRuntime } from "../projects/runtime.ts";
import type { StoreOps } from "../storage/store.ts";
import { issueLinkToken, type IssuedLinkToken } from "./link-tokens.ts";
import { originOf } from "./links.ts";
import { queueTemplateMail, type MailRecipient } from "./mailer.ts";

export type { MailRecipient } from "./mailer.ts";

/** What the mail methods read of a project: its file, the server's deps, its link key, its redirect origins. */
export type MailDeps = Pick<ProjectRuntime, "id" | "config" | "deps" | "secrets" | "redirectOrigins">;
/** The operations a mail method writes through (the caller's transaction). */
export type MailTx = Pick<StoreOps, "outbox" | "users">;
/** The same, for the mails that carry a link token. */
export type LinkMailTx = Pick<StoreOps, "outbox" | "users" | "linkTokens">;

/** Where verification links point: this server's GET /auth/verify, built from the public URL (never a Host header). */
export function verifyLinkBase(p: Pick<ProjectRuntime, "id" | "deps">): string {
  return `${p.deps.publicUrl}/p/${p.id}/auth/verify`;
}

/**
 * The verify_email mail (signup, resend, an operator's retry): revokes the user's older
 * verification links, issues a new one and queues the message carrying it.
 */
export async function queueVerificationMail(p: MailDeps, tx: LinkMailTx, user: MailRecipient, nowMs: number): Promise<void> {
  const ttlSeconds = p.config.auth.verifyTokenTtlSeconds;
  await tx.linkTokens.revoke({ kind: "verify", userId: user.id, nowMs });
  const token = await issueLinkToken(p, tx, { kind: "verify", userId: user.id, email: user.email, ttlSeconds, nowMs });
  await queueTemplateMail(p, tx, {
    template: "verify_email",
    user,
    link: { tokenId: token.id, base: verifyLinkBase(p) },
    expiresInSeconds: ttlSeconds,
    nowMs,
  });
}

/**
 * The reset_password mail: only the newest reset link works (older ones are revoked), the token is
 * bound to the stored address and the mail goes to it (not to what was typed); `{{app_url}}` is
 * the origin of the (validated) redirect URL the link points at.
 */
export async function queueResetMail(p: MailDeps, tx: LinkMailTx, user: MailRecipient, redirectUrl: string, nowMs: number): Promise<void> {
  const ttlSeconds = p.config.auth.resetTokenTtlSeconds;
  await tx.linkTokens.revoke({ kind: "reset", userId: user.id, nowMs });
  const token = await issueLinkToken(p, tx, { kind: "reset", userId: user.id, email: user.email, ttlSeconds, nowMs });
  await queueTemplateMail(p, tx, {
    template: "reset_password",
    user: { id: user.id, email: user.email },
    link: { tokenId: token.id, base: redirectUrl },
    expiresInSeconds: ttlSeconds,
    appUrl: originOf(redirectUrl),
    nowMs,
  });
}

/** The password_changed notice (change-password, reset-password, an operator's retry). No link. */
export async function queuePasswordChangedMail(p: MailDeps, tx: MailTx, user: MailRecipient, nowMs: number): Promise<void> {
  await queueTemplateMail(p, tx, { template: "password_changed", user, nowMs });
}

/**
 * The email_change_confirm mail, sent to the *new* address: issues a `verify` link token bound to
 * the user and the new address and returns it (the caller records the change it confirms). The link
 * goes to `redirectUrl` (already validated) when the request named one, else to GET /auth/verify.
 */
export async function queueEmailChangeConfirmMail(
  p: MailDeps,
  tx: LinkMailTx,
  args: { userId: string; newEmail: string; redirectUrl: string | null; nowMs: number },
): Promise<IssuedLinkToken> {
  const ttlSeconds = p.config.auth.verifyTokenTtlSeconds;
  const token = await issueLinkToken(p, tx, { kind: "verify", userId: args.userId, email: args.newEmail, ttlSeconds, nowMs: args.nowMs });
  await queueTemplateMail(p, tx, {
    template: "email_change_confirm",
    user: { id: args.userId, email: args.newEmail },
    link: { tokenId: token.id, base: args.redirectUrl ?? verifyLinkBase(p) },
    expiresInSeconds: ttlSeconds,
    ...(args.redirectUrl ? { appUrl: originOf(args.redirectUrl) } : {}),
    nowMs: args.nowMs,
  });
  return token;
}

/** The email_change_notice mail, sent to the *current* address when a change is requested. No link. */
export async function queueEmailChangeNoticeMail(p: MailDeps, tx: MailTx, user: MailRecipient, nowMs: number): Promise<void> {
  await queueTemplateMail(p, tx, { template: "email_change_notice", user, nowMs });
}

/**
 * The account_deleted notice. It reads the user's columns, so it is queued before the row goes
 * (in the deleting transaction: a refused delete rolls it back).
 */
export async function queueAccountDeletedMail(p: MailDeps, tx: MailTx, user: MailRecipient, nowMs: number): Promise<void> {
  await queueTemplateMail(p, tx, { template: "account_deleted", user, nowMs });
}
