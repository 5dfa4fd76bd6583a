/**
 * Mail plugin `json-api`: a template for a company's own mail API. Each message is POSTed as JSON
 * with a bearer token; adapt the body and the URL to your service. A 2xx is delivered; a 4xx is a
 * final refusal (PermanentMailError: not retried); anything else rejects, and the outbox retries.
 *
 * Load it with `latchkey serve --plugins DIR`; test it against a local receiver with
 * `latchkey plugin test mail-json-api.ts --options '{"url":"{{receiver_url}}","token":"test"}'`.
 */
import type { MailMessage, MailProvider, PluginApi } from "./latchkey-plugin";

export default ({ defineMailProvider, v, PermanentMailError }: PluginApi) =>
  defineMailProvider({
    id: "json-api",
    optionsSchema: v.strictObject({
      url: v.pipe(v.string(), v.url("url must be an absolute URL")),
      token: v.pipe(v.string(), v.nonEmpty("token must not be empty")),
      timeout_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(300_000)), 10_000),
    }),
    create: ({ url, token, timeout_ms }): MailProvider => ({
      id: "json-api",
      async send(msg: MailMessage) {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ from: msg.from, to: msg.to, subject: msg.subject, text: msg.text, html: msg.html ?? null, id: msg.id ?? null }),
          redirect: "manual",
          signal: AbortSignal.timeout(timeout_ms),
        });
        await res.body?.cancel();
        if (res.ok) return;
        // Never put the token or the message into the error: it is logged.
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          throw new PermanentMailError(`the mail API refused the message (HTTP ${res.status})`);
        }
        throw new Error(`the mail API answered HTTP ${res.status}`);
      },
    }),
  });
