/**
 * The mail outbox (SPEC 8): rows are written inside the caller's transaction, so a message exists
 * exactly when the change (and the token) it talks about was committed. The payload holds template
 * variables and at most a link token *id* plus the link's base URL, never the token itself; it is
 * dropped once the message is sent or has finally failed.
 */
import type { TemplateName } from "../config/types.ts";
import { uuidV4 } from "../crypto/random.ts";
import type { ProjectRuntime } from "../projects/runtime.ts";
import type { StoreOps } from "../storage/store.ts";
import type { TemplateVariables } from "./templates.ts";
import { wakeOutbox } from "../projects/outbox-wakers.ts";

export type { OutboxRow } from "../storage/outbox.ts";

export interface OutboxLink {
  /** Id of the `_link_tokens` row; the sender rebuilds the token from it. */
  readonly tokenId: string;
  /** Absolute URL the `token` query parameter is appended to. */
  readonly base: string;
}

export interface OutboxPayload {
  readonly vars: TemplateVariables;
  readonly link?: OutboxLink;
}

export { setOutboxWaker, wakeOutbox } from "../projects/outbox-wakers.ts";

/**
 * Writes one message through `tx`, the transaction that creates the token or change the message
 * is about. The sender is nudged; it only looks once the transaction has let go of the store.
 */
export async function enqueueMail(
  p: Pick<ProjectRuntime, "deps">,
  tx: Pick<StoreOps, "outbox">,
  msg: { template: TemplateName; to: string; payload: OutboxPayload; nowMs: number },
): Promise<string> {
  const id = uuidV4(p.deps.random);
  await tx.outbox.enqueue({ id, template: msg.template, to: msg.to, payload: JSON.stringify(msg.payload), nowMs: msg.nowMs });
  wakeOutbox(p);
  return id;
}
