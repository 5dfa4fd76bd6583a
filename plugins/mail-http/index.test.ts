import { afterAll, describe, expect, it } from "bun:test";
import { getDotPath, parse, safeParse } from "valibot";
import { Webhook } from "standardwebhooks";
import { createTestPluginContext } from "../../test/contracts/hasher-contract.ts";
import { runMailContract, sampleMessage } from "../../test/contracts/mail-contract.ts";
import type { MailHarness } from "../../test/contracts/mail-contract.ts";
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from "../../test/helpers/webhook-receiver.ts";
import { isPermanentMailError, type MailProvider } from "../../src/plugin-api.ts";
import { closedPort } from "../../src/plugin-host/receivers.ts";
import httpMailProvider, { signWebhook, type HttpMailBody } from "./index.ts";

const SECRET = newWebhookSecret();
const receivers: WebhookReceiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

function receiver(script: number[] = [], secret = SECRET): WebhookReceiver {
  const r = startWebhookReceiver(secret, script);
  receivers.push(r);
  return r;
}

function createProvider(options: unknown): MailProvider {
  return httpMailProvider.create(parse(httpMailProvider.optionsSchema, options), createTestPluginContext());
}

async function setup(): Promise<MailHarness> {
  const r = receiver();
  return {
    provider: createProvider({ url: r.url, secret: SECRET }),
    delivered: async () =>
      r.deliveries.map((d) => {
        const doc = d.verified as HttpMailBody;
        return { to: doc.to, subject: doc.subject, body: doc.text };
      }),
  };
}

runMailContract("http", setup, {
  hasVerify: false,
  makeUndeliverable: async () => createProvider({ url: `http://127.0.0.1:${await closedPort()}`, secret: SECRET, timeout: "2s" }),
  makeRefused: async () => {
    const r = receiver([500]);
    return { provider: createProvider({ url: r.url, secret: SECRET }) };
  },
});

describe("http mail options", () => {
  it("takes url and secret, defaults the timeout to 10 s, and reads ms, s, m and plain seconds", () => {
    const o = parse(httpMailProvider.optionsSchema, { url: "https://relay.example.com/mail", secret: SECRET });
    expect(o.timeoutMs).toBe(10_000);
    expect(o.url).toBe("https://relay.example.com/mail");
    expect(o.keyBase64).toBe(Buffer.from(SECRET.slice(6), "base64").toString("base64"));
    const t = (timeout: unknown): number => parse(httpMailProvider.optionsSchema, { url: "https://r.example.com", secret: SECRET, timeout }).timeoutMs;
    expect([t("500ms"), t("3s"), t("1m"), t(2)]).toEqual([500, 3000, 60_000, 2000]);
  });

  it("allows plain http only to a loopback host", () => {
    for (const url of ["http://127.0.0.1:9000/x", "http://localhost/x", "http://[::1]:8/x", "http://127.8.9.10/"]) {
      expect(safeParse(httpMailProvider.optionsSchema, { url, secret: SECRET }).success).toBe(true);
    }
    for (const url of ["http://relay.example.com/mail", "http://10.0.0.5/mail", "ftp://127.0.0.1/", "relay.example.com", "/mail"]) {
      expect(safeParse(httpMailProvider.optionsSchema, { url, secret: SECRET }).success).toBe(false);
    }
  });

  it("refuses bad secrets, credentials in the url, bad timeouts and unknown keys, without quoting the secret", () => {
    const secretValue = "whsec_aHVudGVyMi1zZWNyZXQ"; // 13 bytes: too short
    for (const bad of [
      { url: "https://r.example.com", secret: secretValue },
      { url: "https://r.example.com", secret: "aHVudGVyMi1zZWNyZXQtaHVudGVyMi1zZWNyZXQ=" },
      { url: "https://r.example.com", secret: "whsec_not base64!!" },
      { url: "https://user:hunter2@r.example.com", secret: SECRET },
      { url: "https://r.example.com", secret: SECRET, timeout: "50ms" },
      { url: "https://r.example.com", secret: SECRET, timeout: "10 minutes" },
      { url: "https://r.example.com", secret: SECRET, retries: 3 },
      { url: "https://r.example.com" },
    ]) {
      const result = safeParse(httpMailProvider.optionsSchema, bad);
      expect(result.success).toBe(false);
      const text = (result.issues ?? []).map((i) => `${getDotPath(i)} ${i.message}`).join("\n");
      expect(text).not.toContain("aHVudGVyMi1zZWNyZXQ");
      expect(text).not.toContain("hunter2");
    }
  });
});

describe("http mail delivery", () => {
  it("POSTs {id, from, to, subject, text, html} with a signature that standardwebhooks verifies", async () => {
    const r = receiver();
    await createProvider({ url: r.url, secret: SECRET }).send(sampleMessage({ html: "<p>hi</p>" }));
    expect(r.deliveries).toHaveLength(1);
    const [d] = r.deliveries;
    expect(d.verified).toEqual({
      id: "01J0000000000000000000000A",
      from: "Demo App <no-reply@example.com>",
      to: "alice@example.org",
      subject: "Reset your Demo App password",
      text: sampleMessage().text,
      html: "<p>hi</p>",
    });
    expect(d.headers["webhook-id"]).toBe("01J0000000000000000000000A");
    expect(d.headers["content-type"]).toBe("application/json");
    expect(Math.abs(Number(d.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(5);
    expect(d.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it("signs exactly like the reference implementation (known answer)", () => {
    const key = new Uint8Array(Buffer.from(SECRET.slice(6), "base64"));
    const at = new Date(1_700_000_000_000);
    expect(signWebhook(key, "msg_1", 1_700_000_000, '{"a":1}')).toBe(new Webhook(SECRET).sign("msg_1", at, '{"a":1}'));
  });

  it("is refused by a receiver holding another secret (the signature depends on the key)", async () => {
    const r = receiver([], newWebhookSecret());
    const err = await createProvider({ url: r.url, secret: SECRET }).send(sampleMessage()).catch((e: unknown) => e);
    expect(r.deliveries.map((d) => d.verified)).toEqual([null]);
    // The receiver answered 401: a final refusal.
    expect(isPermanentMailError(err)).toBe(true);
  });

  it("gives a message without an outbox id a random webhook-id, and sends html: null without HTML", async () => {
    const r = receiver();
    await createProvider({ url: r.url, secret: SECRET }).send(sampleMessage({ id: undefined }));
    expect(r.deliveries[0].headers["webhook-id"]).toMatch(/^msg_[0-9a-f-]{36}$/);
    expect((r.deliveries[0].verified as HttpMailBody).html).toBeNull();
    expect((r.deliveries[0].verified as HttpMailBody).id).toBe(r.deliveries[0].headers["webhook-id"]);
  });

  it("treats a 2xx as delivered, a 4xx as final, and a 5xx, 408 or 429 as worth a retry", async () => {
    const r = receiver([202, 400, 404, 422, 500, 503, 408, 429]);
    const provider = createProvider({ url: r.url, secret: SECRET });
    const outcome = async (): Promise<string> =>
      provider.send(sampleMessage()).then(
        () => "delivered",
        (e: unknown) => (isPermanentMailError(e) ? "final" : "retry"),
      );
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push(await outcome());
    expect(seen).toEqual(["delivered", "final", "final", "final", "retry", "retry", "retry", "retry"]);
  });

  it("times out a receiver that does not answer in time (a retry), without quoting the url", async () => {
    const r = receiver();
    r.delayMs = 1500;
    const url = `${r.url}?token=hunter2`;
    const err = await createProvider({ url, secret: SECRET, timeout: "200ms" }).send(sampleMessage()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isPermanentMailError(err)).toBe(false);
    expect((err as Error).message).toContain("200 ms");
    expect((err as Error).message).not.toContain("hunter2");
  });

  it("does not follow a redirect (it would resend a signed message elsewhere)", async () => {
    const target = receiver();
    const redirector = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.redirect(target.url, 307) });
    try {
      const err = await createProvider({ url: `http://127.0.0.1:${redirector.port}/`, secret: SECRET }).send(sampleMessage()).catch((e: unknown) => e);
      expect(isPermanentMailError(err)).toBe(true);
      expect(target.deliveries).toEqual([]);
    } finally {
      await redirector.stop(true);
    }
  });
});
