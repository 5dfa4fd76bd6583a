/**
 * Rendering an outbox row into a message, at send time. The link token is rebuilt here from its
 * id, so it exists in clear only in memory, in the message on its way out.
 */
import type { MailMessage } from "../plugin-api.ts";
import type { ProjectRuntime } from "../projects/runtime.ts";
import { linkTokenFor } from "./link-tokens.ts";
import { withQueryParam } from "./links.ts";
import type { OutboxPayload, OutboxRow } from "./outbox.ts";
import { renderTemplate, templateFor } from "./templates.ts";

export type RenderDeps = Pick<ProjectRuntime, "config" | "secrets" | "store">;

export type RenderResult =
  | { readonly ok: true; readonly message: MailMessage; /** Values to scrub from any error text. */ readonly secrets: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export async function renderOutboxMessage(p: RenderDeps, row: OutboxRow, nowMs: number): Promise<RenderResult> {
  if (row.payload === null) return { ok: false, reason: "the message has no payload" };
  let payload: OutboxPayload;
  try {
    payload = JSON.parse(row.payload) as OutboxPayload;
  } catch {
    return { ok: false, reason: "the payload is not valid JSON" };
  }
  const secrets: string[] = [];
  let link = "";
  if (payload.link) {
    // A link that was used, superseded (resend, reset) or has expired would only confuse: drop it.
    if (!(await p.store.linkTokens.isLive(payload.link.tokenId, nowMs))) return { ok: false, reason: "the link is no longer valid" };
    const token = linkTokenFor(p, payload.link.tokenId);
    link = withQueryParam(payload.link.base, "token", token);
    secrets.push(token, link);
  }
  const rendered = renderTemplate(templateFor(p.config, row.template), {
    ...payload.vars,
    project_name: p.config.name,
    link,
  });
  return {
    ok: true,
    secrets,
    message: {
      id: row.id,
      to: row.to_addr,
      from: p.config.mail.from,
      subject: rendered.subject,
      text: rendered.text,
      ...(rendered.html === undefined ? {} : { html: rendered.html }),
    },
  };
}
