/**
 * WAL checkpoints off the serving thread. bun:sqlite is synchronous: SQLite's automatic
 * checkpoint runs inside whichever commit crosses `wal_autocheckpoint` pages, copies the pages
 * into the database file and fsyncs it there, on the event loop (hundreds of milliseconds on a busy
 * disk, during which no request of any project runs). A watched connection has the automatic
 * checkpoint turned off, and one Worker for the whole process (checkpoint-worker.ts) checkpoints
 * every watched database on its own connections instead.
 *
 * - The worker starts with the first watched database and stops when the last one is unwatched.
 * - `unwatch` resolves once the worker has let go of the database (no checkpoint running or to
 *   come): the pool awaits it before closing a project's connection, so a database the process no
 *   longer owns is never checkpointed.
 * - Fallback: when the worker cannot start, dies, or stops answering for `STALL_FALLBACK_MS` (a
 *   thread stuck in a very slow fsync), every watched connection gets its automatic checkpoint back
 *   (logged), and loses it again once the worker answers. A WAL that stays above
 *   `WAL_WARN_BYTES` because a reader holds an old snapshot (a backup or a sqlite3 shell in another
 *   process) is logged once a minute: no checkpoint of any kind can recycle it before that reader
 *   ends.
 */
import type { Database } from "bun:sqlite";
import { dirname, join } from "node:path";
import type { FromWorker, ToWorker } from "./checkpoint-worker.ts";

/** How often the worker looks at the WAL files (one stat per open database). */
export const CHECKPOINT_TICK_MS = 100;
/**
 * At most one checkpoint per database this often: about what the automatic checkpoint (every
 * 1,000 pages) came to during a large clean-up, so no more fsyncs than before, off the thread.
 */
export const CHECKPOINT_MIN_INTERVAL_MS = 1_000;
/** A WAL larger than this that cannot be checkpointed to its end is logged. */
export const WAL_WARN_BYTES = 256 * 2 ** 20;
/**
 * A WAL file past this size (the worker's checkpoints keep copying, but commits come too often for
 * the writer ever to find all of it copied and start the log over) gets the serving connection's
 * automatic checkpoint back until it is reused: that checkpoint has little left to copy (the
 * worker did the rest), and it is the one that lets the next commit start the log over.
 */
export const WAL_HELP_BYTES = 64 * 2 ** 20;
/** The WAL file is cut back to this size when it is reused from its start. */
export const WAL_SIZE_LIMIT_BYTES = 16 * 2 ** 20;
/** The worker's heartbeat period, and how long without one before the serving thread takes over. */
const ALIVE_EVERY_MS = 1_000;
export const STALL_FALLBACK_MS = 10_000;
/** SQLite's default, restored on a connection when the worker cannot do the checkpoints. */
const AUTOCHECKPOINT_PAGES = 1_000;

interface Logger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface CheckpointEvent {
  readonly path: string;
  readonly walBytes: number;
  readonly frames: number;
  readonly copied: number;
  readonly busy: boolean;
  readonly ms: number;
}

interface Entry {
  id: number;
  path: string;
  db: Database;
  log: Logger;
  /** Its automatic checkpoint is on again because its WAL passed WAL_HELP_BYTES. */
  helped: boolean;
}

const entries = new Map<Database, Entry>();
const byId = new Map<number, Entry>();
const listeners = new Set<(e: CheckpointEvent) => void>();
let nextId = 1;
let nextSeq = 1;
const acks = new Map<number, () => void>();
let worker: Worker | null = null;
let lastAliveMs = 0;
let watchdog: ReturnType<typeof setInterval> | null = null;
/** The serving connections do their own checkpoints (the worker is missing or stalled). */
let fallback = false;
let checkpoints = 0;
/** The size limits in use (tests lower them). */
const limits = { warnBytes: WAL_WARN_BYTES, helpBytes: WAL_HELP_BYTES };
/** Unwatches waiting for the worker's answer: the worker stops only when none is left. */
let pendingUnwatches = 0;

/**
 * The worker's entry file. Run from source, it sits next to this file. In the compiled binary
 * (`bun build --compile src/main.ts src/storage/sqlite/checkpoint-worker.ts`), every entry point is
 * embedded under the binary's virtual root, which is src/ (`import.meta.url` is the build machine's
 * path there, so it cannot be used).
 */
function workerEntry(): string | URL {
  const main = process.argv[1] ?? "";
  if (main.startsWith("/$bunfs/")) return join(dirname(main), "storage", "sqlite", "checkpoint-worker.ts");
  return new URL("./checkpoint-worker.ts", import.meta.url);
}

function post(m: ToWorker): void {
  worker?.postMessage(m);
}

function postConfig(): void {
  post({ t: "config", tickMs: CHECKPOINT_TICK_MS, minIntervalMs: CHECKPOINT_MIN_INTERVAL_MS, warnAboveBytes: limits.warnBytes, aliveEveryMs: ALIVE_EVERY_MS });
}

/** Lowers (or restores) the WAL size limits: tests, which cannot write hundreds of MiB. */
export function setCheckpointLimits(next: { warnBytes?: number; helpBytes?: number }): void {
  limits.warnBytes = next.warnBytes ?? WAL_WARN_BYTES;
  limits.helpBytes = next.helpBytes ?? WAL_HELP_BYTES;
  postConfig();
}

function setAutocheckpoint(e: Entry, on: boolean): void {
  try {
    e.db.exec(`PRAGMA wal_autocheckpoint=${on ? AUTOCHECKPOINT_PAGES : 0}`);
  } catch {
    // a connection being closed
  }
}

function enterFallback(why: string): void {
  if (fallback) return;
  fallback = true;
  for (const e of entries.values()) setAutocheckpoint(e, true);
  const log = entries.values().next().value?.log;
  log?.error("the checkpoint thread is not working; the serving thread checkpoints again", { reason: why });
}

function leaveFallback(): void {
  if (!fallback || worker === null) return;
  fallback = false;
  for (const e of entries.values()) setAutocheckpoint(e, e.helped);
}

function onMessage(m: FromWorker): void {
  switch (m.t) {
    case "ack":
      acks.get(m.seq)?.();
      acks.delete(m.seq);
      return;
    case "alive":
      lastAliveMs = performance.now();
      leaveFallback();
      return;
    case "checkpoint": {
      checkpoints++;
      const e = byId.get(m.id);
      if (!e || !entries.has(e.db)) return;
      // The file's size stays until the log starts over; the frames in use tell when it has.
      if (!e.helped && m.walBytes > limits.helpBytes && m.frames >= AUTOCHECKPOINT_PAGES) {
        e.helped = true;
        if (!fallback) setAutocheckpoint(e, true);
      } else if (e.helped && m.frames < AUTOCHECKPOINT_PAGES) {
        e.helped = false;
        if (!fallback) setAutocheckpoint(e, false);
      }
      const ev: CheckpointEvent = { path: e.path, walBytes: m.walBytes, frames: m.frames, copied: m.copied, busy: m.busy, ms: m.ms };
      for (const l of listeners) l(ev);
      return;
    }
    case "stuck":
      byId.get(m.id)?.log.warn(
        "the WAL cannot be checkpointed to its end: a read transaction (a backup, a sqlite3 shell) holds an old snapshot; it keeps growing until that reader ends",
        { wal_mib: Math.round(m.walBytes / 2 ** 20), frames: m.frames, copied: m.copied },
      );
      return;
    case "failed":
      byId.get(m.id)?.log.warn("a WAL checkpoint failed; it is tried again", { error: m.message });
      return;
  }
}

function startWorker(log: Logger): void {
  if (worker !== null) return;
  try {
    const w = new Worker(workerEntry());
    worker = w;
    w.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
    const lose = (why: string): void => {
      if (worker !== w) return;
      stopWorker();
      if (entries.size > 0) enterFallback(why);
    };
    w.onerror = (ev: ErrorEvent) => lose(`worker error: ${ev.message}`);
    w.addEventListener("close", () => lose("worker exited"));
    w.unref();
    lastAliveMs = performance.now();
    postConfig();
    // Connections still watched from before a stopped worker: the new one takes them over.
    for (const e of entries.values()) post({ t: "watch", id: e.id, path: e.path });
    watchdog = setInterval(() => {
      if (worker !== null && performance.now() - lastAliveMs > STALL_FALLBACK_MS) enterFallback(`no answer for ${STALL_FALLBACK_MS / 1000} s`);
    }, ALIVE_EVERY_MS);
    watchdog.unref?.();
  } catch (e) {
    worker = null;
    fallback = true;
    log.error("cannot start the checkpoint thread; the serving thread checkpoints", { error: e instanceof Error ? e.message : String(e) });
  }
}

function stopWorker(): void {
  const w = worker;
  worker = null;
  if (watchdog !== null) clearInterval(watchdog);
  watchdog = null;
  fallback = false;
  // Any unwatch still waiting: the worker is gone, so it has let go.
  for (const resolve of acks.values()) resolve();
  acks.clear();
  w?.terminate();
}

/**
 * Hands the checkpoints of a serving connection to the worker: its automatic checkpoint is turned
 * off (unless the worker is not working) and its WAL file is cut back to WAL_SIZE_LIMIT_BYTES
 * whenever it is reused from the start.
 */
export function watchCheckpoints(db: Database, path: string, log: Logger): void {
  if (entries.has(db)) return;
  startWorker(log);
  const e: Entry = { id: nextId++, path, db, log, helped: false };
  entries.set(db, e);
  byId.set(e.id, e);
  db.exec(`PRAGMA journal_size_limit=${WAL_SIZE_LIMIT_BYTES}`);
  setAutocheckpoint(e, fallback || worker === null);
  post({ t: "watch", id: e.id, path });
}

/**
 * Takes a connection back from the worker (before it closes): resolves once no checkpoint of its
 * database runs or will run. The connection gets its automatic checkpoint back.
 */
export async function unwatchCheckpoints(db: Database): Promise<void> {
  const e = entries.get(db);
  if (!e) return;
  entries.delete(db);
  setAutocheckpoint(e, true);
  const w = worker;
  if (w !== null) {
    const seq = nextSeq++;
    const acked = new Promise<void>((resolve) => acks.set(seq, resolve));
    pendingUnwatches++;
    post({ t: "unwatch", id: e.id, seq });
    // A dead or stuck worker must not hold a project's closing forever: it is terminated then.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ok = await Promise.race([acked.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STALL_FALLBACK_MS)))]);
    clearTimeout(timer);
    pendingUnwatches--;
    acks.delete(seq);
    if (!ok && worker === w) {
      e.log.error("the checkpoint thread did not let go of a database; it is stopped", {});
      stopWorker();
      if (entries.size > 0) enterFallback("a database was not let go");
    }
  }
  byId.delete(e.id);
  if (entries.size === 0 && pendingUnwatches === 0) stopWorker();
}

/**
 * For a connection closed without `unwatchCheckpoints` (closeProjectDb calls it): the worker is
 * told at once, without waiting. Callers that can wait use `unwatchCheckpoints` first.
 */
export function forgetCheckpoints(db: Database): void {
  if (entries.has(db)) void unwatchCheckpoints(db);
}

/**
 * Has the worker checkpoint `db`'s WAL now (not at its next tick, at most once a second) and
 * resolves once it has (at once when the connection is not watched or the worker is missing; after
 * DRAIN_TIMEOUT_MS at most). A large clean-up calls it after every share of the WAL it writes, so
 * the log is all copied, starts over at its beginning with the next commit and never grows past
 * WAL_SIZE_LIMIT_BYTES: a larger one is truncated by the commit that starts it over (on the
 * serving thread: 50–150 ms for a 100 MB WAL, measured) and, past WAL_HELP_BYTES, gets the serving
 * connection's own checkpoints back.
 */
export async function drainWal(db: Database): Promise<void> {
  const e = entries.get(db);
  if (!e || worker === null || fallback) return;
  const seq = nextSeq++;
  const acked = new Promise<void>((resolve) => acks.set(seq, resolve));
  post({ t: "checkpointNow", id: e.id, seq });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([acked, new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)))]);
  clearTimeout(timer);
  acks.delete(seq);
}
const DRAIN_TIMEOUT_MS = 5_000;

/** Whether a connection is watched (tests). */
export function isWatched(db: Database): boolean {
  return entries.has(db);
}

/** Numbers for tests and metrics. */
export function checkpointerStats(): { running: boolean; watched: number; checkpoints: number; fallback: boolean } {
  return { running: worker !== null, watched: entries.size, checkpoints, fallback };
}

/** Calls `fn` after every checkpoint the worker made (tests); returns the unsubscribe. */
export function onCheckpoint(fn: (e: CheckpointEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
