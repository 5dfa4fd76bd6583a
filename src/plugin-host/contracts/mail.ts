/**
 * Contract every mail provider plugin must meet (SPEC §10): send, verify, close, errors surfaced.
 * The caller supplies a harness: a real provider plus a way to observe what it delivered (a
 * directory, captured stdout, an SMTP or HTTP receiver).
 */
import type { MailMessage, MailProvider } from "../../plugin-api.ts";
import { assert, assertEqual, assertRejects, callSafely, show, type ContractCheck } from "./check.ts";

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
  /** A provider whose service refuses or fails the message (an HTTP 500): send() must reject. */
  readonly makeRefused?: () => Promise<{ provider: MailProvider; teardown?: () => Promise<void> }>;
  /** Set when delivery cannot be observed: the checks that send are skipped (nothing is sent anywhere). */
  readonly unobservable?: string;
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

async function send(provider: MailProvider, msg: MailMessage): Promise<void> {
  await callSafely(() => provider.send(msg), `send(${show(msg.subject)})`);
}

/** The checks of the mail contract, in order. */
export function mailContractChecks(name: string, setup: () => Promise<MailHarness>, options: MailContractOptions): ContractCheck[] {
  const checks: ContractCheck[] = [];
  const add = (checkName: string, run: () => Promise<void>, skip?: string): void => {
    checks.push(skip === undefined ? { name: checkName, run } : { name: checkName, run, skip });
  };

  add("carries the plugin id", async () => {
    await withHarness(setup, async (h) => {
      assertEqual(h.provider.id, name, "provider.id");
    });
  });

  add("delivers a text message with its recipient, subject and body", async () => {
    await withHarness(setup, async (h) => {
      const msg = sampleMessage();
      await send(h.provider, msg);
      const seen = await h.delivered();
      assertEqual(seen.length, 1, "messages delivered");
      assert(seen[0].to.includes(msg.to), `the recipient ${show(msg.to)} is not in what arrived (${show(seen[0].to)})`);
      assertEqual(seen[0].subject, msg.subject, "subject delivered");
      assert(seen[0].body.includes(msg.text), `the text part did not arrive verbatim (got ${show(seen[0].body)})`);
    });
  }, options.unobservable);

  add("delivers a message with an HTML part and keeps the text part", async () => {
    await withHarness(setup, async (h) => {
      const msg = sampleMessage({ html: "<p>Open <a href=\"https://app.example.com/\">this link</a></p>", id: undefined });
      await send(h.provider, msg);
      const seen = await h.delivered();
      assertEqual(seen.length, 1, "messages delivered");
      assert(seen[0].body.includes(msg.text), `the text part did not arrive verbatim next to the HTML part (got ${show(seen[0].body)})`);
    });
  }, options.unobservable);

  add("delivers each message separately, in order", async () => {
    await withHarness(setup, async (h) => {
      await send(h.provider, sampleMessage({ subject: "First", id: "msg-1" }));
      await send(h.provider, sampleMessage({ subject: "Second", to: "bob@example.org", id: "msg-2" }));
      const seen = await h.delivered();
      assertEqual(seen.map((m) => m.subject), ["First", "Second"], "subjects delivered");
      assert(seen[1].to.includes("bob@example.org"), `the second recipient is not in what arrived (${show(seen[1].to)})`);
    });
  }, options.unobservable);

  if (options.hasVerify) {
    add("passes its connectivity check when it can deliver", async () => {
      await withHarness(setup, async (h) => {
        assert(typeof h.provider.verify === "function", "verify is missing");
        assertEqual(await callSafely(() => h.provider.verify?.(), "verify()"), undefined, "verify() result");
      });
    });
  } else {
    add("has no connectivity check", async () => {
      await withHarness(setup, async (h) => {
        assertEqual(h.provider.verify, undefined, "verify");
      });
    });
  }

  add("closes without an error", async () => {
    const h = await setup();
    try {
      assert(h.provider.close === undefined || typeof h.provider.close === "function", "close must be a function when present");
      await callSafely(() => h.provider.close?.(), "close()");
    } finally {
      await h.teardown?.();
    }
  });

  const { makeUndeliverable, makeRefused } = options;
  if (options.unobservable !== undefined && makeUndeliverable === undefined) {
    add("rejects send() when it cannot deliver", async () => undefined, options.unobservable);
  }
  if (makeUndeliverable !== undefined) {
    add("rejects send() when it cannot deliver", async () => {
      const provider = await makeUndeliverable();
      try {
        const err = await assertRejects(provider.send(sampleMessage()), "send() to a destination that cannot be reached");
        assert(err instanceof Error, `send() must reject with an Error, got ${show(err)}`);
      } finally {
        await provider.close?.();
      }
    });
  }
  if (makeRefused !== undefined) {
    add("rejects send() when the service answers with an error", async () => {
      const { provider, teardown } = await makeRefused();
      try {
        const err = await assertRejects(provider.send(sampleMessage()), "send() to a service that answers HTTP 500");
        assert(err instanceof Error, `send() must reject with an Error, got ${show(err)}`);
      } finally {
        await provider.close?.();
        await teardown?.();
      }
    });
  }
  return checks;
}
