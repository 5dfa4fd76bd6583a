/**
 * The semantic mailer: decides which template, which variables and which link a message gets, and
 * writes it to the outbox. Delivery (and rendering) happen later in the background sender.
 * Services call the one method per event in `events.ts`; `queueTemplateMail` is what those share.
 */
import type { ColumnDef, TemplateName } from "../config/types.ts";
import type { ProjectRuntime } from "../projects/runtime.ts";
import type { StoreOps } from "../storage/store.ts";
import { enqueueMail, type OutboxLink } from "./outbox.ts";
import { formatDuration, templateFor, userColumnsUsed } from "./templates.ts";

export interface MailRecipient {
  readonly id: string;
  /** The stored address (it passed SPEC 9.1 validation at signup). */
  readonly email: string;
}

export interface QueueMailArgs {
  readonly template: TemplateName;
  readonly user: MailRecipient;
  readonly link?: OutboxLink;
  readonly expiresInSeconds?: number;
  /** The app the user came from; defaults to the project's app URL (see `defaultAppUrl`). */
  readonly appUrl?: string;
  readonly nowMs: number;
}

/**
 * Queues one message through the caller's transaction `tx`. `user.<column>` values are captured
 * now (only the columns the template uses), so the message says what was true when it was requested.
 */
export async function queueTemplateMail(p: Pick<ProjectRuntime, "config" | "deps" | "redirectOrigins">, tx: Pick<StoreOps, "outbox" | "users">, args: QueueMailArgs): Promise<string> {
  const vars: Record<string, string> = {
    email: args.user.email,
    app_url: args.appUrl ?? defaultAppUrl(p),
    expires_in: args.expiresInSeconds === undefined ? "" : formatDuration(args.expiresInSeconds),
    ...(await userVariables(p, tx, args.user.id, userColumnsUsed(templateFor(p.config, args.template)))),
  };
  return enqueueMail(p, tx, {
    template: args.template,
    to: args.user.email,
    payload: args.link ? { vars, link: args.link } : { vars },
    nowMs: args.nowMs,
  });
}

/**
 * `{{app_url}}` when no request names the app: the first allowed redirect origin, else the origin
 * of `auth.verify_redirect_url`, else the server's public URL.
 */
export function defaultAppUrl(p: Pick<ProjectRuntime, "config" | "deps" | "redirectOrigins">): string {
  const first = p.redirectOrigins()[0];
  if (first) return first;
  if (p.config.auth.verifyRedirectUrl) return new URL(p.config.auth.verifyRedirectUrl).origin;
  return p.deps.publicUrl;
}

async function userVariables(p: Pick<ProjectRuntime, "config">, tx: Pick<StoreOps, "users">, userId: string, wanted: readonly string[]): Promise<Record<string, string>> {
  if (wanted.length === 0 || p.config.authTableName === null) return {};
  const table = p.config.tables.find((t) => t.name === p.config.authTableName);
  // Hidden columns are never shown to end users, so never to their inbox either.
  const cols = (table?.columns ?? []).filter((c) => !c.hidden && wanted.includes(c.name));
  if (cols.length === 0) return {};
  const row = await tx.users.readColumns(userId, cols.map((c) => c.name));
  const out: Record<string, string> = {};
  for (const c of cols) out[`user.${c.name}`] = displayValue(c, row?.[c.name]);
  return out;
}

function displayValue(col: ColumnDef, value: unknown): string {
  if (value === null || value === undefined) return "";
  if (col.type === "bool") return value === 1 || value === true ? "true" : "false";
  if (value instanceof Uint8Array) return "";
  return String(value);
}
