/**
 * Mail plugin `postmark`: delivers through Postmark's Email API (POST /email), written only
 * against the plugin API. A worked example of a plugin for a well-known mail service.
 *
 *   mail:
 *     provider: postmark
 *     from: "Demo <no-reply@myapp.com>"     # a confirmed Sender Signature in Postmark
 *     options: { server_token: "${POSTMARK_SERVER_TOKEN}" }
 *
 * Test it without the internet (a local receiver stands in for api.postmarkapp.com):
 *   latchkey plugin test mail-postmark.ts --options '{"server_token":"test","api_url":"{{receiver_url}}"}'
 */
import type { MailMessage, MailProvider, PluginApi } from "./latchkey-plugin";

/** Postmark's error codes that describe the message or recipient, not the account: retrying cannot help. */
const FINAL_ERROR_CODES = new Set([300, 406]); // invalid email request, inactive recipient

export default ({ defineMailProvider, v, PermanentMailError }: PluginApi) =>
  defineMailProvider({
    id: "postmark",
    optionsSchema: v.strictObject({
      /** The Server API token (Postmark: Servers -> API Tokens). */
      server_token: v.pipe(v.string("server_token must be a string"), v.nonEmpty("server_token must not be empty")),
      message_stream: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,64}$/, "message_stream must be a stream id")), "outbound"),
      /** For tests and proxies only. */
      api_url: v.optional(v.pipe(v.string(), v.url("api_url must be an absolute URL")), "https://api.postmarkapp.com"),
      timeout_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(300_000)), 10_000),
    }),
    create: (opts): MailProvider => {
      const base = opts.api_url.replace(/\/+$/, "");
      const headers = {
        accept: "application/json",
        "content-type": "application/json",
        "x-postmark-server-token": opts.server_token,
      };
      const call = (path: string, init: RequestInit): Promise<Response> =>
        fetch(`${base}${path}`, { ...init, headers, redirect: "manual", signal: AbortSignal.timeout(opts.timeout_ms) });

      return {
        id: "postmark",
        async send(msg: MailMessage) {
          const res = await call("/email", {
            method: "POST",
            body: JSON.stringify({
              From: msg.from,
              To: msg.to,
              Subject: msg.subject,
              TextBody: msg.text,
              ...(msg.html === undefined ? {} : { HtmlBody: msg.html }),
              MessageStream: opts.message_stream,
              // Lets a support person find the outbox row of a message in Postmark's activity.
              ...(msg.id === undefined ? {} : { Metadata: { latchkey_outbox_id: msg.id } }),
              TrackOpens: false,
              TrackLinks: "None",
            }),
          });
          const answer = (await res.json().catch(() => null)) as { ErrorCode?: number; Message?: string } | null;
          if (res.ok && (answer?.ErrorCode ?? 0) === 0) return;
          // Postmark's message is safe to log (it never echoes the token); the body may carry a link, so it is not quoted.
          const reason = `Postmark answered HTTP ${res.status}, ErrorCode ${answer?.ErrorCode ?? "?"}: ${String(answer?.Message ?? "").slice(0, 200)}`;
          if (res.status === 422 && FINAL_ERROR_CODES.has(answer?.ErrorCode ?? -1)) throw new PermanentMailError(reason);
          throw new Error(reason);
        },
        /** Checks the token at startup: GET /server answers 200 only for a valid Server API token. */
        async verify() {
          const res = await call("/server", { method: "GET" });
          await res.body?.cancel();
          if (!res.ok) throw new Error(`Postmark refused the server token check (HTTP ${res.status})`);
        },
      };
    },
  });
