/**
 * WAL checkpoints off the serving thread. bun:sqlite is synchronous: SQLite's automatic
 * checkpoint runs inside whichever commit crosses `wal_autocheckpoint` pages, copies the pages
 * into the database file and fsyncs it there, on the event loop (hundreds of milliseconds on a busy
 * disk, during which no request of any project runs). A watched connection has the automatic
 * checkpoint turned off, and one Worker for the whole process (checkpoint-worker.ts) checkpoints
 * every watched database on its own connections instead. The serving thread copies only the few
 * frames committed during the worker's last round, so that the log starts over (finishCheckpoint).
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
import type { Database, Statement } from "bun:sqlite";
import { dirname, join } from "node:path";
import type { CheckpointOutcome, FromWorker, ToWorker } from "./checkpoint-worker.ts";

/** How often the worker looks at the WAL files (one stat per open database). */
export const CHECKPOINT_TICK_MS = 100;
/**
 * At most one checkpoint per database this often: about what the automatic checkpoint (every
 * 1,000 pages) came to during a large clean-up, so no more fsyncs than before, off the thread.
 */
export const CHECKPOINT_MIN_INTERVAL_MS = 1_000;
/**
 * Sooner than that when the WAL file has grown by this much since the last checkpoint: the log ran
 * past the file's end before starting over (commits come faster than one checkpoint a second
 * copies), and the first commit after it starts over cuts the file back to WAL_SIZE_LIMIT_BYTES,
 * an ftruncate on the serving thread.
 */
export const CHECKPOINT_GROWTH_BYTES = 2 * 2 ** 20;
/** A WAL larger than this that cannot be checkpointed to its end is logged. */
export const WAL_WARN_BYTES = 256 * 2 ** 20;
/**
 * A WAL file past this size (the worker's checkpoints keep copying, but commits come too often for
 * the writer ever to find all of it copied and start the log over) gets the serving connection's
 * automatic checkpoint back until it is reused: that checkpoint has little left to copy (the
 * worker did the rest), and it is the one that lets the next commit start the log over.
 */
export const WAL_HELP_BYTES = 64 * 2 ** 20;
/**
 * The log starts over only when a write finds every frame copied. While users commit every few
 * milliseconds, some always land between the worker's last round and the next write, and the log
 * grows (to 77–84 MiB in a clean-up with a signup every 4–7 ms, bench/scale.ts).
 * So once the worker has copied a log of at least this many frames (4 MiB, SQLite's own automatic
 * checkpoint size) to its end but for what was committed during its last round, the serving thread
 * copies those (finishCheckpoint): on it, nothing commits between that copy and the next write.
 */
export const FINISH_ABOVE_FRAMES = 1_024;
/**
 * ... if that checkpoint reached the end of the log (and so fsynced the database file) and its
 * last round began at most this long ago: the serving thread then copies and fsyncs what it
 * committed in that time (a few frames).
 */
export const FINISH_WITHIN_MS = 200;
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
  /** Its `PRAGMA wal_checkpoint(PASSIVE)` on the serving connection (finishCheckpoint), prepared on first use. */
  passive?: Statement;
}

const entries = new Map<Database, Entry>();
const byId = new Map<number, Entry>();
const listeners = new Set<(e: CheckpointEvent) => void>();
let nextId = 1;
let nextSeq = 1;
const NOT_DONE: CheckpointOutcome = { complete: false, synced: false, lastRoundAt: 0 };
/** Answers awaited from the worker, by sequence number (a checkpointNow's carries its outcome). */
const acks = new Map<number, (outcome: CheckpointOutcome) => void>();
let worker: Worker | null = null;
let lastAliveMs = 0;
let watchdog: ReturnType<typeof setInterval> | null = null;
/** The serving connections do their own checkpoints (the worker is missing or stalled). */
let fallback = false;
let checkpoints = 0;
/** Checkpoints finished on the serving thread (finishCheckpoint). */
let finishes = 0;
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
  post({ t: "config", tickMs: CHECKPOINT_TICK_MS, minIntervalMs: CHECKPOINT_MIN_INTERVAL_MS, growthBytes: CHECKPOINT_GROWTH_BYTES, warnAboveBytes: limits.warnBytes, aliveEveryMs: ALIVE_EVERY_MS });
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
      acks.get(m.seq)?.(m.outcome ?? NOT_DONE);
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
      // A log the worker copied to its end but for its last round's commits, that has not started
      // over for a while: the serving thread copies those few frames (finishCheckpoint).
      if (!m.busy && m.copied === m.frames && m.frames >= FINISH_ABOVE_FRAMES) finishCheckpoint(e, m);
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
  for (const resolve of acks.values()) resolve(NOT_DONE);
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
  e.passive?.finalize(); // before the connection closes (an open statement would keep its files open)
  setAutocheckpoint(e, true);
  const w = worker;
  if (w !== null) {
    const seq = nextSeq++;
    const acked = new Promise<void>((resolve) => acks.set(seq, () => resolve()));
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
 * Has the worker checkpoint `db`'s WAL now (not at its next tick, at most once a second), then
 * copies on the serving thread what was committed during its last round (finishCheckpoint), and
 * resolves (at once when the connection is not watched or the worker is missing; the worker is
 * waited for DRAIN_TIMEOUT_MS at most). A large clean-up calls it after every share of the WAL it
 * writes, so the log is all copied and starts over at its beginning with the next commit, and never
 * grows past WAL_SIZE_LIMIT_BYTES: a larger one is cut back by the first commit after it starts
 * over, on the serving thread (an ftruncate of 20–50 ms with a busy disk, measured), and past
 * WAL_HELP_BYTES it gets the serving connection's own checkpoints back.
 */
export async function drainWal(db: Database): Promise<void> {
  const e = entries.get(db);
  if (!e || worker === null || fallback) return;
  const seq = nextSeq++;
  const acked = new Promise<CheckpointOutcome>((resolve) => acks.set(seq, resolve));
  post({ t: "checkpointNow", id: e.id, seq });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([acked, new Promise<CheckpointOutcome>((resolve) => (timer = setTimeout(() => resolve(NOT_DONE), DRAIN_TIMEOUT_MS)))]);
  clearTimeout(timer);
  acks.delete(seq);
  if (outcome.complete) finishCheckpoint(e, outcome);
}
const DRAIN_TIMEOUT_MS = 5_000;

/**
 * The serving thread's share of a checkpoint the worker made: copies what was committed since its
 * last round began, so the next write starts the log over. Only after a checkpoint that reached
 * the end of the log (`synced`: SQLite fsyncs the database file only then, so an unsynced one
 * would leave megabytes of copied pages for this thread's fsync: 10–50 ms each, traced) whose last
 * round began at most FINISH_WITHIN_MS ago (a few frames); never inside a transaction of the
 * serving connection (SQLite refuses a checkpoint there); and a PASSIVE checkpoint never waits: if
 * the worker holds the checkpoint lock, nothing is done. With nothing left to copy it takes a lock
 * and writes nothing.
 */
function finishCheckpoint(e: Entry, done: Pick<CheckpointOutcome, "synced" | "lastRoundAt">): void {
  const age = performance.timeOrigin + performance.now() - done.lastRoundAt;
  if (!done.synced || age > FINISH_WITHIN_MS || !entries.has(e.db) || e.db.inTransaction) return;
  try {
    (e.passive ??= e.db.prepare("PRAGMA wal_checkpoint(PASSIVE)")).get();
    finishes++;
  } catch {
    // a connection closing, or the disk refusing: the worker's next checkpoint tries again
  }
}

/** Whether a connection is watched (tests). */
export function isWatched(db: Database): boolean {
  return entries.has(db);
}

/** Numbers for tests and metrics. */
export function checkpointerStats(): { running: boolean; watched: number; checkpoints: number; finishes: number; fallback: boolean } {
  return { running: worker !== null, watched: entries.size, checkpoints, finishes, fallback };
}

/** Calls `fn` after every checkpoint the worker made (tests); returns the unsubscribe. */
export function onCheckpoint(fn: (e: CheckpointEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
