/**
 * The built-in `http` mail provider through the outbox: a verification mail goes to a local
 * receiver that checks the Standard Webhooks signature with the `standardwebhooks` package.
 * 5xx and timeouts are retried; a 4xx is final.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { PASSWORD, demoProject, outboxRows } from "./fixtures.ts";

let inst: TestInstance | undefined;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await inst?.close();
  await receiver?.close();
  inst = undefined;
  receiver = undefined;
});

async function setup(script: number[], timeout = "2s"): Promise<{ inst: TestInstance; receiver: WebhookReceiver }> {
  const secret = newWebhookSecret();
  receiver = startWebhookReceiver(secret, script);
  inst = await createTestInstance([
    demoProject({ mail: { provider: "http", from: "Demo <no-reply@myapp.com>", options: { url: receiver.url, secret, timeout } } }),
  ]);
  const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD } });
  expect(s.status).toBe(201);
  return { inst, receiver };
}

/** Past the first retry delay (5 s) of the default schedule, on the instance's clock. */
const RETRY_LATER_MS = 6_000;

describe("http mail provider through the outbox", () => {
  it("5xx then 2xx: retried, then delivered exactly once, signed and verified", async () => {
    const { inst, receiver } = await setup([503]);
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(outboxRows(inst)[0]).toMatchObject({ status: "pending", attempts: 1 });
    expect(outboxRows(inst)[0].last_error).toContain("HTTP 503");

    // Not due yet: nothing is sent early.
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 0, retried: 0, failed: 0 });
    inst.clock.advance(RETRY_LATER_MS);
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 1, retried: 0, failed: 0 });
    inst.clock.advance(RETRY_LATER_MS * 100);
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 0, retried: 0, failed: 0 });

    expect(receiver.deliveries.map((d) => d.status)).toEqual([503, 200]);
    const delivered = receiver.deliveries.filter((d) => d.status === 200);
    expect(delivered).toHaveLength(1);
    const payload = delivered[0].verified as { id: string; to: string; subject: string; text: string; html: string };
    expect(payload.to).toBe("alice@example.org");
    expect(payload.subject).toBe("Confirm your email for Demo App");
    expect(payload.text).toMatch(/\/p\/demo\/auth\/verify\?token=[A-Za-z0-9_-]{43}/);
    expect(payload.html).toContain("<");
    // One webhook-id across both attempts: the receiver can drop a duplicate.
    const row = outboxRows(inst)[0];
    expect(receiver.deliveries.map((d) => d.headers["webhook-id"])).toEqual([row.id, row.id]);
    expect(row).toMatchObject({ status: "sent", attempts: 2, payload: null });
  });

  it("4xx: final at once, never retried, and the body is dropped", async () => {
    const { inst, receiver } = await setup([422]);
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 0, retried: 0, failed: 1 });
    for (let i = 0; i < 3; i++) {
      inst.clock.advance(RETRY_LATER_MS * 100);
      expect(await inst.outbox.deliver("demo")).toEqual({ sent: 0, retried: 0, failed: 0 });
    }
    expect(receiver.deliveries.map((d) => d.status)).toEqual([422]);
    expect(outboxRows(inst)[0]).toMatchObject({ status: "failed", attempts: 1, payload: null });
    expect(outboxRows(inst)[0].last_error).toContain("HTTP 422");
    expect(inst.logs.some((l) => l.includes("mail rejected; not retried"))).toBe(true);
  });

  it("a receiver that does not answer in time: retried, then delivered once", async () => {
    const { inst, receiver } = await setup([], "300ms");
    receiver.delayMs = 1_000;
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(outboxRows(inst)[0].last_error).toContain("did not answer within 300 ms");
    receiver.delayMs = 0;
    inst.clock.advance(RETRY_LATER_MS);
    expect(await inst.outbox.deliver("demo")).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(outboxRows(inst)[0]).toMatchObject({ status: "sent", attempts: 2 });
  });
});
