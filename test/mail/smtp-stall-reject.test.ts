/**
 * Delivery through a real SMTP server that stalls on one recipient and rejects another with 550:
 * the stall must not hold up the rest of the queue, and the 550 is final (not retried).
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { PASSWORD, demoProject } from "./fixtures.ts";

interface Server {
  port: number;
  delivered: string[];
  rcptAttempts: Map<string, number>;
  close(): Promise<void>;
}

async function startPickyServer(): Promise<Server> {
  const delivered: string[] = [];
  const rcptAttempts = new Map<string, number>();
  const stalled: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, callback): void {
      const to = address.address.toLowerCase();
      rcptAttempts.set(to, (rcptAttempts.get(to) ?? 0) + 1);
      if (to.startsWith("stall@")) {
        stalled.push(() => callback()); // never answered while the test runs
        return;
      }
      if (to.startsWith("reject@")) {
        callback(Object.assign(new Error("5.1.1 mailbox unavailable"), { responseCode: 550 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback): void {
      stream.on("data", () => undefined);
      stream.on("end", () => {
        delivered.push(...session.envelope.rcptTo.map((r) => r.address.toLowerCase()));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    delivered,
    rcptAttempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of stalled) s();
        server.close(() => resolve());
      }),
  };
}

let inst: TestInstance | undefined;
let smtp: Server | undefined;
afterEach(async () => {
  await inst?.close();
  await smtp?.close();
  inst = undefined;
  smtp = undefined;
});

describe("SMTP delivery with a stalled and a rejecting recipient", () => {
  it("delivers the other mails while one recipient stalls, and gives up at once on a 550", async () => {
    smtp = await startPickyServer();
    const spec = demoProject({
      mail: { provider: "smtp", from: "Demo <no-reply@myapp.com>", options: { url: `smtp://127.0.0.1:${smtp.port}`, timeout_ms: 20_000 } },
    });
    // Retries would come back after 50 ms: a 550 that is retried shows up as several RCPT attempts.
    inst = await createTestInstance([spec], {
      mailSender: { schedule: { baseDelayMs: 50, maxDelayMs: 50, maxAttempts: 10 }, maxSleepMs: 100, stopTimeoutMs: 100 },
    });
    const emails = ["stall@example.org", "reject@example.org", "a@example.org", "b@example.org", "c@example.org"];
    for (const email of emails) {
      const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email, password: PASSWORD } });
      expect(s.status).toBe(201);
    }
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && smtp.delivered.length < 3) await Bun.sleep(20);
    // The stalled recipient holds one connection for up to 20 s; the rest went through meanwhile.
    expect([...smtp.delivered].sort()).toEqual(["a@example.org", "b@example.org", "c@example.org"]);

    await Bun.sleep(500); // ten retry periods: a retried 550 would have been tried again by now
    expect(smtp.rcptAttempts.get("reject@example.org")).toBe(1);
    const row = dbOf(inst).query("SELECT status, attempts, last_error, payload FROM _outbox WHERE to_addr = ?").get("reject@example.org") as {
      status: string;
      attempts: number;
      last_error: string;
      payload: string | null;
    };
    expect(row.status).toBe("failed");
    expect(row.attempts).toBe(1);
    expect(row.last_error).toContain("550");
    expect(row.payload).toBeNull();
    const stalled = dbOf(inst).query("SELECT status FROM _outbox WHERE to_addr = ?").get("stall@example.org") as { status: string };
    expect(stalled.status).toBe("pending");
    expect(smtp.rcptAttempts.get("stall@example.org")).toBe(1); // in flight: never sent twice at once
    expect(inst.logs.some((l) => l.includes("mail rejected; not retried"))).toBe(true);
  }, 20_000);
});
