/**
 * Mail helpers for tests: a `capture` mail provider that records rendered messages in memory
 * (and can be told to fail), and an outbox driver for tests that run without background senders.
 */
import * as v from "valibot";
import { defineMailProvider, type MailMessage, type MailProviderFactory } from "../../src/plugin-api.ts";
import type { PluginRegistry } from "../../plugins/index.ts";
import type { ProjectRuntime } from "../../src/projects/runtime.ts";
import { sqliteDatabaseOf } from "../../src/storage/sqlite/store.ts";
import { deliverDue, type DeliveryCounts, type OutboxSchedule } from "../../src/mail/sender.ts";

export const CAPTURE_PROVIDER_ID = "capture";

export interface MailCapture {
  /** Every message delivered through the `capture` provider, in order. */
  readonly messages: MailMessage[];
  /** While true, `send` rejects (an unreachable provider). */
  failing: boolean;
  /** Resolves once at least `count` messages were delivered (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<MailMessage[]>;
}

export function createMailCapture(): MailCapture {
  const capture: MailCapture = {
    messages: [],
    failing: false,
    async waitFor(count, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (capture.messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} mails, got ${capture.messages.length}`);
        await Bun.sleep(5);
      }
      return capture.messages;
    },
  };
  return capture;
}

function captureFactory(capture: MailCapture): MailProviderFactory {
  return defineMailProvider({
    id: CAPTURE_PROVIDER_ID,
    optionsSchema: v.optional(v.strictObject({}), {}),
    create() {
      return {
        id: CAPTURE_PROVIDER_ID,
        async send(msg: MailMessage): Promise<void> {
          if (capture.failing) throw new Error("capture provider is failing on purpose");
          capture.messages.push(msg);
        },
      };
    },
  }) as MailProviderFactory;
}

/** The built-in plugins plus the `capture` mail provider (select it with `mail: { provider: capture }`). */
export function registryWithCapture(base: PluginRegistry, capture: MailCapture): PluginRegistry {
  return { hashers: base.hashers, mailProviders: { ...base.mailProviders, [CAPTURE_PROVIDER_ID]: captureFactory(capture) } };
}

/**
 * Sees every message a project's mail provider is asked to send, and decides what happens:
 * `send` delivers it through the real provider (call it, delay it, or throw instead).
 */
export type MailSendSpy = (msg: MailMessage, send: (msg: MailMessage) => Promise<void>) => Promise<void>;

/** `base` with every mail provider's `send` going through `spy` (an explicit seam for tests). */
export function registryWithMailSendSpy(base: PluginRegistry, spy: MailSendSpy): PluginRegistry {
  const mailProviders: Record<string, MailProviderFactory> = {};
  for (const [id, factory] of Object.entries(base.mailProviders)) {
    mailProviders[id] = {
      ...factory,
      create(options, ctx) {
        const inner = factory.create(options, ctx);
        return {
          id: inner.id,
          send: (msg: MailMessage) => spy(msg, (m) => inner.send(m)),
          ...(inner.verify ? { verify: () => inner.verify!() } : {}),
          ...(inner.close ? { close: () => inner.close!() } : {}),
        };
      },
    };
  }
  return { hashers: base.hashers, mailProviders };
}

export interface OutboxRowView {
  id: string;
  template: string;
  to_addr: string;
  payload: string | null;
  status: "pending" | "sent" | "failed";
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

/** Reads and drives a project's outbox by hand (when no background sender runs). */
export interface OutboxDriver {
  rows(projectId: string): OutboxRowView[];
  /** Delivers every due message of one project (or of all) once, like one pass of the sender. */
  deliver(projectId?: string, schedule?: Partial<OutboxSchedule>): Promise<DeliveryCounts>;
}

export function createOutboxDriver(
  projects: () => { get(id: string): ProjectRuntime | undefined; values(): Iterable<ProjectRuntime> },
  /** Where rows are read (the instance's engine; default: the project's SQLite connection). */
  rowReader: (p: ProjectRuntime) => { query(text: string): { all(): unknown[] } } = (p) => sqliteDatabaseOf(p.store),
): OutboxDriver {
  const project = (id: string): ProjectRuntime => {
    const p = projects().get(id);
    if (!p) throw new Error(`no project ${id}`);
    return p;
  };
  return {
    rows: (id) => rowReader(project(id)).query("SELECT * FROM _outbox ORDER BY created_at, rowid").all() as OutboxRowView[],
    async deliver(id, schedule) {
      const total: DeliveryCounts = { sent: 0, retried: 0, failed: 0 };
      for (const p of id ? [project(id)] : [...projects().values()]) {
        const c = await deliverDue(p, { schedule });
        total.sent += c.sent;
        total.retried += c.retried;
        total.failed += c.failed;
      }
      return total;
    },
  };
}
