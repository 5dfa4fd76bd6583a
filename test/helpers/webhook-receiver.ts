/**
 * A local HTTP receiver for the `http` mail provider that checks every request's Standard Webhooks
 * signature with an independent implementation (npm `standardwebhooks`), and answers with the
 * statuses it is told to, in order (then 200).
 */
import { Webhook } from "standardwebhooks";

export interface WebhookDelivery {
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The payload as `standardwebhooks` verified it; null when the signature did not verify. */
  readonly verified: unknown;
  readonly status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly deliveries: WebhookDelivery[];
  /** Statuses to answer next, one per request (then 200). */
  readonly script: number[];
  /** Milliseconds to wait before answering each request. */
  delayMs: number;
  close(): Promise<void>;
}

export function startWebhookReceiver(secret: string, script: number[] = []): WebhookReceiver {
  const wh = new Webhook(secret);
  const receiver: WebhookReceiver = {
    url: "",
    deliveries: [],
    script,
    delayMs: 0,
    close: async () => {
      await server.stop(true);
    },
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req): Promise<Response> {
      const body = await req.text();
      const headers = Object.fromEntries(req.headers);
      let verified: unknown = null;
      try {
        verified = wh.verify(body, headers);
      } catch {
        verified = null;
      }
      const status = verified === null ? 401 : (receiver.script.shift() ?? 200);
      if (receiver.delayMs > 0) await Bun.sleep(receiver.delayMs);
      receiver.deliveries.push({ headers, body, verified, status });
      return new Response(status >= 200 && status < 300 ? "ok" : "no", { status });
    },
  });
  return Object.assign(receiver, { url: `http://127.0.0.1:${server.port}/hooks/mail` });
}

/** A fresh `whsec_` secret (24 random bytes), as Standard Webhooks libraries generate them. */
export function newWebhookSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64")}`;
}
