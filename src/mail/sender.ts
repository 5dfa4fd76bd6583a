/**
 * The background outbox sender, one per project. Timer-driven (no busy loop): it sleeps until the
 * earliest pending retry, and `wake()` (called on every enqueue) brings it back at once. Sends run
 * one at a time, outside every request, so mail never blocks or changes an API response.
 *
 * Delivery is at-least-once: an attempt is counted and the next retry time written *before* the
 * provider is called, so a crash mid-send leads to a retry, not a lost message.
 */
import type { ProjectRuntime } from "../projects/runtime.ts";
import { setOutboxWaker, type OutboxRow } from "./outbox.ts";
import { renderOutboxMessage } from "./render.ts";
import { createBackoff, type BackoffPolicy } from "../projects/backoff.ts";
import { schedulerOf } from "../projects/housekeeping.ts";
import { isPermanentMailError } from "../plugin-api.ts";

/** What delivering a project's outbox reads: its file, store, link key, mail provider, clock and log. */
export type SenderDeps = Pick<ProjectRuntime, "config" | "deps" | "log" | "mailProvider" | "secrets" | "store">;

export interface OutboxSchedule {
  /** Delay after the first failed attempt; doubles after each further failure. */
  readonly baseDelayMs: number;
  /** Cap of a single delay. */
  readonly maxDelayMs: number;
  /** Attempts in total; after the last failure the message is marked failed. */
  readonly maxAttempts: number;
}

/** 5 s, 10 s, 20 s, ... capped at 10 min; 10 attempts spread over about 30 minutes. */
export const DEFAULT_OUTBOX_SCHEDULE: OutboxSchedule = { baseDelayMs: 5_000, maxDelayMs: 600_000, maxAttempts: 10 };

export interface SenderOptions {
  readonly schedule?: Partial<OutboxSchedule>;
  /** A provider call that has not settled after this long counts as failed. */
  readonly sendTimeoutMs?: number;
  /** How long `stop()` waits for an in-flight send before giving up on it. */
  readonly stopTimeoutMs?: number;
  /** Longest sleep between two looks at the outbox (bounds the effect of clock changes). */
  readonly maxSleepMs?: number;
  /**
   * When the outbox and link tokens were last cleaned; kept by the caller across the closings and
   * reopenings of a project, so reopening does not clean again within the hour.
   */
  readonly housekeeping?: { lastHousekeepingMs: number };
  /** Messages of one project in flight at once (default MAIL_SEND_CONCURRENCY). */
  readonly concurrency?: number;
  /** Wait after a pass that failed on the database (disk full, read-only, locked): 1 s doubling to 1 min. */
  readonly errorBackoff?: BackoffPolicy;
}

export const SENDER_ERROR_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };

export interface OutboxSender {
  /** Look at the outbox now (after an enqueue). */
  wake(): void;
  /** Stops the timer and lets an in-flight send finish (up to `stopTimeoutMs`). */
  stop(): Promise<void>;
}

export interface DeliveryCounts {
  sent: number;
  retried: number;
  failed: number;
}

const BATCH = 50;
/** Sends in flight per project: a stalled mail server holds one of them, not the whole queue. */
export const MAIL_SEND_CONCURRENCY = 4;
/** Finished messages and dead link tokens are kept this long (for support questions), then deleted. */
const RETENTION_MS = 30 * 86_400_000;
const HOUSEKEEPING_EVERY_MS = 3_600_000;

/** Delay before attempt `attempt + 1`, after `attempt` (1-based) failed attempts. */
export function retryDelayMs(schedule: OutboxSchedule, attempt: number): number {
  return Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

export function resolveSchedule(partial: Partial<OutboxSchedule> | undefined): OutboxSchedule {
  return { ...DEFAULT_OUTBOX_SCHEDULE, ...partial };
}

/**
 * Delivers every message that is due now, up to `concurrency` at a time, and returns what
 * happened. Used by the sender's timer and by tests that drive the outbox by hand. A database
 * failure stops the pass (after the sends in flight settle) and is rethrown.
 */
export async function deliverDue(
  p: SenderDeps,
  opts: { schedule?: Partial<OutboxSchedule>; sendTimeoutMs?: number; shouldStop?: () => boolean; concurrency?: number } = {},
): Promise<DeliveryCounts> {
  const schedule = resolveSchedule(opts.schedule);
  const counts: DeliveryCounts = { sent: 0, retried: 0, failed: 0 };
  const stop = opts.shouldStop ?? ((): boolean => false);
  const concurrency = Math.max(1, opts.concurrency ?? MAIL_SEND_CONCURRENCY);
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | null = null;
  const halted = (): boolean => stop() || failure !== null;
  while (!halted()) {
    // Every row of a batch is claimed (its retry time moved on) before the next query, so a
    // message in flight is never picked up twice.
    const rows = await p.store.outbox.due(p.deps.now(), BATCH);
    if (rows.length === 0) break;
    for (const row of rows) {
      while (inFlight.size >= concurrency && !halted()) await Promise.race(inFlight);
      if (halted()) break;
      const task: Promise<void> = deliverOne(p, row, schedule, opts.sendTimeoutMs ?? 60_000)
        .then((outcome) => {
          if (outcome !== null) counts[outcome]++;
        })
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  }
  await Promise.all(inFlight);
  if (failure !== null) throw (failure as { error: unknown }).error;
  return counts;
}

async function deliverOne(
  p: SenderDeps,
  row: OutboxRow,
  schedule: OutboxSchedule,
  sendTimeoutMs: number,
): Promise<keyof DeliveryCounts | null> {
  const attempt = row.attempts + 1;
  const startedMs = p.deps.now();
  if (!(await p.store.outbox.claim(row.id, row.attempts, startedMs + retryDelayMs(schedule, attempt)))) return null;
  const fields = { outbox_id: row.id, template: row.template, attempt };

  const rendered = await renderOutboxMessage(p, row, startedMs);
  if (!rendered.ok) {
    await p.store.outbox.markFailed(row.id, p.deps.now(), rendered.reason);
    p.log.warn("mail dropped", { ...fields, reason: rendered.reason });
    return "failed";
  }
  try {
    await withTimeout(p.mailProvider.send(rendered.message), sendTimeoutMs);
  } catch (e) {
    const error = describeError(e, rendered.secrets);
    if (isPermanentMailError(e)) {
      // The receiver refused this message for good (an SMTP 5xx, an HTTP 4xx): retrying cannot help.
      await p.store.outbox.markFailed(row.id, p.deps.now(), error);
      p.log.error("mail rejected; not retried", { ...fields, error });
      return "failed";
    }
    if (attempt >= schedule.maxAttempts) {
      await p.store.outbox.markFailed(row.id, p.deps.now(), error);
      p.log.error("mail delivery failed; giving up", { ...fields, max_attempts: schedule.maxAttempts, error });
      return "failed";
    }
    await p.store.outbox.recordError(row.id, error);
    p.log.warn("mail delivery failed; will retry", { ...fields, retry_in_ms: retryDelayMs(schedule, attempt), error });
    return "retried";
  }
  await p.store.outbox.markSent(row.id, p.deps.now());
  p.log.info("mail sent", fields);
  return "sent";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the mail provider did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Error text for the log and `_outbox.last_error`: the provider's message, cut short, without
 * control characters and with the link token (and the link) scrubbed out, since a provider may
 * echo the message it failed to send and no database or log may hold a token.
 */
export function describeError(e: unknown, secrets: readonly string[]): string {
  let text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  for (const s of secrets) if (s !== "") text = text.split(s).join("[redacted]");
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 300);
}

/**
 * Starts the sender of one project. It looks at the outbox at once (messages left by a previous
 * run). Up to `concurrency` sends are in flight; each one that settles brings the sender back, so
 * a stalled mail server holds one place, never the whole queue.
 */
export function startOutboxSender(p: SenderDeps & Pick<ProjectRuntime, "onClose">, opts: SenderOptions = {}): OutboxSender {
  const schedule = resolveSchedule(opts.schedule);
  const maxSleepMs = opts.maxSleepMs ?? 60_000;
  const concurrency = Math.max(1, opts.concurrency ?? MAIL_SEND_CONCURRENCY);
  const sendTimeoutMs = opts.sendTimeoutMs ?? 60_000;
  const scheduler = schedulerOf(p);
  let stopped = false;
  const hk = opts.housekeeping ?? { lastHousekeepingMs: -Infinity };
  // Rows being sent now: a send slower than its retry delay must not be picked up a second time.
  const inFlight = new Map<string, Promise<void>>();
  // A database failure (disk full, read-only, locked) is not a row's failure: the sender waits
  // before the next look instead of retrying at once, one log line per step.
  const backoff = createBackoff(opts.errorBackoff ?? SENDER_ERROR_BACKOFF);
  let backingOff = false;

  const housekeep = async (): Promise<void> => {
    const nowMs = p.deps.now();
    if (nowMs - hk.lastHousekeepingMs < HOUSEKEEPING_EVERY_MS) return;
    hk.lastHousekeepingMs = nowMs;
    await p.store.outbox.pruneFinished(nowMs - RETENTION_MS);
    await p.store.linkTokens.prune(nowMs - RETENTION_MS);
  };

  // One timer per project for all its background jobs (projects/housekeeping.ts); it never keeps
  // the process alive, the HTTP server does.
  const arm = (ms: number): void => {
    if (stopped) return;
    scheduler.at("mail", ms, () => void pass());
  };

  const report = (msg: string, e: unknown): void => {
    if (stopped) return; // after stop() the database may already be closed under a slow send
    const retryInMs = backoff.fail();
    backingOff = true;
    p.log.error(msg, { error: describeError(e, []), attempt: backoff.failures, retry_in_ms: retryInMs });
    arm(retryInMs);
  };

  const launch = (row: OutboxRow): void => {
    const task = deliverOne(p, row, schedule, sendTimeoutMs)
      .then(() => backoff.succeed())
      .catch((e: unknown) => report("mail sender cannot update the outbox; will retry", e))
      .finally(() => {
        inFlight.delete(row.id);
        if (!backingOff) arm(0);
      });
    inFlight.set(row.id, task);
  };

  async function pass(): Promise<void> {
    if (stopped) return;
    backingOff = false;
    try {
      await housekeep();
      let nextAt: number | null = null;
      while (inFlight.size < concurrency && !stopped) {
        // Filtered after the read: a pass that overlapped this one may have launched some of them.
        const rows = (await p.store.outbox.due(p.deps.now(), BATCH)).filter((r) => !inFlight.has(r.id));
        if (rows.length === 0 || stopped) break;
        for (const row of rows.slice(0, concurrency - inFlight.size)) launch(row);
      }
      if (stopped) return;
      if (inFlight.size === 0) backoff.succeed();
      nextAt = await p.store.outbox.nextDueAt();
      const nowMs = p.deps.now();
      // Sleep until the earliest retry; when idle, until housekeeping is due. A due row that is
      // in flight (or waits for a free place) brings us back when a send settles; an enqueue
      // wakes us at once; `maxSleepMs` bounds every sleep (a safety net against clock jumps).
      const untilHousekeeping = Math.max(1_000, hk.lastHousekeepingMs + HOUSEKEEPING_EVERY_MS - nowMs);
      const untilDue = nextAt === null || nextAt <= nowMs ? untilHousekeeping : nextAt - nowMs;
      arm(Math.min(maxSleepMs, untilDue));
    } catch (e) {
      report("mail sender pass failed; will retry", e);
    }
  }

  const sender: OutboxSender = {
    wake(): void {
      if (stopped || backingOff) return;
      arm(0);
    },
    async stop(): Promise<void> {
      stopped = true;
      setOutboxWaker(p, null);
      scheduler.cancel("mail");
      if (inFlight.size > 0) {
        const limit = opts.stopTimeoutMs ?? 10_000;
        let t: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([Promise.all(inFlight.values()), new Promise<void>((resolve) => (t = setTimeout(resolve, limit)))]);
        clearTimeout(t);
      }
    },
  };
  setOutboxWaker(p, sender.wake);
  arm(0);
  return sender;
}
