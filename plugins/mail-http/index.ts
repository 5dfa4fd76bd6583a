/**
 * Mail provider `http`: POSTs each rendered message as JSON to a URL, signed in the Standard
 * Webhooks scheme, so any mail service can be reached through a small relay the operator runs.
 */
import { createHmac, randomUUID } from "node:crypto";
import * as v from "valibot";
import { defineMailProvider, PermanentMailError } from "../../src/plugin-api.ts";
import type { MailMessage, MailProvider, MailProviderFactory } from "../../src/plugin-api.ts";

export const HTTP_MAIL_DEFAULT_TIMEOUT_MS = 10_000;
const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 300_000;
const SECRET_PREFIX = "whsec_";
const MIN_SECRET_BYTES = 16;
const MAX_SECRET_BYTES = 256;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The JSON document POSTed for one message. */
export interface HttpMailBody {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string | null;
}

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** https anywhere; plain http only to this machine (a relay beside the server). Never echoes the URL. */
function checkUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "url must be an absolute http(s) URL";
  }
  if (url.username !== "" || url.password !== "") return "url must not carry a user or password; the signature authenticates the server";
  if (url.hash !== "") return "url must not have a fragment";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:") return isLoopback(url.hostname) ? null : "url must be https (plain http only to a loopback host such as 127.0.0.1)";
  return "url must be an absolute http(s) URL";
}

/** `whsec_` + standard base64 of the key bytes, as Standard Webhooks libraries generate it. */
export function decodeWebhookSecret(secret: string): Uint8Array | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  const bytes = Buffer.from(b64, "base64");
  if (bytes.length < MIN_SECRET_BYTES || bytes.length > MAX_SECRET_BYTES) return null;
  return new Uint8Array(bytes);
}

/** `500ms`, `10s`, `1m`, or a number of seconds. */
function parseTimeoutMs(value: string | number): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? Math.round(value * 1000) : null;
  const m = /^(\d{1,6})(ms|s|m)$/.exec(value.trim());
  if (m === null) return null;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
}

const optionsSchema = v.pipe(
  v.strictObject({
    url: v.pipe(
      v.string("url must be a string"),
      v.check((u) => checkUrl(u) === null, (issue) => checkUrl(String(issue.input)) ?? "invalid url"),
    ),
    secret: v.pipe(
      v.string("secret must be a string"),
      v.check(
        (s) => decodeWebhookSecret(s) !== null,
        `secret must be "whsec_" followed by the base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes`,
      ),
    ),
    timeout: v.optional(
      v.pipe(
        v.union([v.string(), v.number()], "timeout must be a duration such as 10s or 500ms"),
        v.check((t) => {
          const ms = parseTimeoutMs(t);
          return ms !== null && ms >= MIN_TIMEOUT_MS && ms <= MAX_TIMEOUT_MS;
        }, "timeout must be a duration between 100ms and 5m (e.g. 10s, 500ms)"),
      ),
      "10s",
    ),
  }),
  v.transform((o) => ({
    url: o.url,
    /** The decoded key, kept as base64 so the frozen configuration holds no mutable bytes. */
    keyBase64: Buffer.from(decodeWebhookSecret(o.secret) as Uint8Array).toString("base64"),
    timeoutMs: parseTimeoutMs(o.timeout) ?? HTTP_MAIL_DEFAULT_TIMEOUT_MS,
  })),
);

export type HttpMailOptions = v.InferOutput<typeof optionsSchema>;

/** `v1,<base64 HMAC-SHA-256 of "{id}.{timestamp}.{body}">` (Standard Webhooks). */
export function signWebhook(key: Uint8Array, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
}

const httpMailProvider: MailProviderFactory<typeof optionsSchema> = defineMailProvider({
  id: "http",
  optionsSchema,
  create(options): MailProvider {
    const { url, timeoutMs } = options;
    const key = new Uint8Array(Buffer.from(options.keyBase64, "base64"));
    return {
      id: "http",
      async send(msg: MailMessage): Promise<void> {
        // The outbox id is stable across retries, so the receiver can drop duplicates by webhook-id.
        const id = msg.id ?? `msg_${randomUUID()}`;
        const doc: HttpMailBody = { id, from: msg.from, to: msg.to, subject: msg.subject, text: msg.text, html: msg.html ?? null };
        const body = JSON.stringify(doc);
        const timestamp = Math.floor(Date.now() / 1000);
        let res: Response;
        try {
          res = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "user-agent": "latchkey-mail-http",
              "webhook-id": id,
              "webhook-timestamp": String(timestamp),
              "webhook-signature": signWebhook(key, id, timestamp, body),
            },
            body,
            // A redirect would resend a signed message to an address nobody configured.
            redirect: "manual",
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (err) {
          // The URL is not quoted: it may carry a token in its query.
          if (isTimeout(err)) throw new Error(`the mail relay did not answer within ${timeoutMs} ms`);
          throw new Error(`cannot reach the mail relay: ${err instanceof Error ? err.message : String(err)}`);
        }
        await res.body?.cancel().catch(() => undefined);
        const status = res.status;
        if (status >= 200 && status < 300) return;
        // 408 and 429 say "later", not "never".
        if (status >= 500 || status === 408 || status === 429) throw new Error(`the mail relay answered HTTP ${status}; will retry`);
        if (status >= 300 && status < 400) throw new PermanentMailError(`the mail relay answered a redirect (HTTP ${status}); set url to the final address`);
        throw new PermanentMailError(`the mail relay refused the message (HTTP ${status})`);
      },
    };
  },
});

export default httpMailProvider;
