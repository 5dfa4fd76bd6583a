/**
 * Contract every mail provider plugin must meet. A plugin's test supplies a harness: a real
 * provider plus a way to observe what it delivered (a directory, captured stdout, an SMTP sink).
 */
import { describe, expect, it } from "bun:test";
import type { MailMessage, MailProvider } from "../../src/plugin-api.ts";

/** What the harness saw arrive for one message. `body` must contain the text part verbatim. */
export interface ObservedMail {
  readonly to: string;
  readonly subject: string;
  readonly body: string;
}

export interface MailHarness {
  readonly provider: MailProvider;
  /** Every message delivered since setup, in order. */
  delivered(): Promise<readonly ObservedMail[]>;
  teardown?(): Promise<void>;
}

export interface MailContractOptions {
  /** Whether the provider implements the optional verify(). */
  readonly hasVerify: boolean;
  /** A provider that cannot deliver (closed port, unwritable dir): send() must reject. */
  readonly makeUndeliverable?: () => Promise<MailProvider>;
}

/** A plain, fully rendered message as the semantic mailer produces it. */
export function sampleMessage(overrides: Partial<MailMessage> = {}): MailMessage {
  return {
    from: "Demo App <no-reply@example.com>",
    to: "alice@example.org",
    subject: "Reset your Demo App password",
    text: "Open this link to choose a new password: https://app.example.com/reset?token=abc123",
    id: "01J0000000000000000000000A",
    ...overrides,
  };
}

async function withHarness(setup: () => Promise<MailHarness>, body: (h: MailHarness) => Promise<void>): Promise<void> {
  const harness = await setup();
  try {
    await body(harness);
  } finally {
    await harness.provider.close?.();
    await harness.teardown?.();
  }
}

/** Registers the contract for one mail provider. */
export function runMailContract(name: string, setup: () => Promise<MailHarness>, options: MailContractOptions): void {
  describe(`mail provider contract: ${name}`, () => {
    it("carries the plugin id", async () => {
      await withHarness(setup, async (h) => {
        expect(h.provider.id).toBe(name);
      });
    });

    it("delivers a text message with its recipient, subject and body", async () => {
      await withHarness(setup, async (h) => {
        const msg = sampleMessage();
        await h.provider.send(msg);
        const seen = await h.delivered();
        expect(seen).toHaveLength(1);
        expect(seen[0].to).toContain(msg.to);
        expect(seen[0].subject).toBe(msg.subject);
        expect(seen[0].body).toContain(msg.text);
      });
    });

    it("delivers a message with an HTML part and keeps the text part", async () => {
      await withHarness(setup, async (h) => {
        const msg = sampleMessage({ html: "<p>Open <a href=\"https://app.example.com/\">this link</a></p>", id: undefined });
        await h.provider.send(msg);
        const seen = await h.delivered();
        expect(seen).toHaveLength(1);
        expect(seen[0].body).toContain(msg.text);
      });
    });

    it("delivers each message separately, in order", async () => {
      await withHarness(setup, async (h) => {
        await h.provider.send(sampleMessage({ subject: "First", id: "msg-1" }));
        await h.provider.send(sampleMessage({ subject: "Second", to: "bob@example.org", id: "msg-2" }));
        const seen = await h.delivered();
        expect(seen.map((m) => m.subject)).toEqual(["First", "Second"]);
        expect(seen[1].to).toContain("bob@example.org");
      });
    });

    if (options.hasVerify) {
      it("passes its connectivity check when it can deliver", async () => {
        await withHarness(setup, async (h) => {
          expect(h.provider.verify).toBeFunction();
          expect(await h.provider.verify?.()).toBeUndefined();
        });
      });
    } else {
      it("has no connectivity check", async () => {
        await withHarness(setup, async (h) => {
          expect(h.provider.verify).toBeUndefined();
        });
      });
    }

    const { makeUndeliverable } = options;
    if (makeUndeliverable !== undefined) {
      it("rejects send() when it cannot deliver", async () => {
        const provider = await makeUndeliverable();
        try {
          await expect(provider.send(sampleMessage())).rejects.toBeInstanceOf(Error);
        } finally {
          await provider.close?.();
        }
      });
    }
  });
}
