/**
 * The checkpoint thread (see checkpointer.ts): one Bun Worker for the whole server. It copies the
 * WAL of every open project database into the database file (`PRAGMA wal_checkpoint(PASSIVE)`,
 * which never blocks the serving thread's readers or writers) and fsyncs it, so the serving thread
 * never does. Self-contained on purpose (bun:sqlite and node:fs only): it is a separate entry point
 * of the compiled binary.
 *
 * Every `tickMs` it looks at the WAL file of each watched database (one stat) and checkpoints
 * those whose WAL changed since their last checkpoint (at most once per `minIntervalMs` each), on
 * its own connection to that database: opened when the database is watched, closed when it is
 * unwatched (before the answer), so an open project always holds the same descriptors (its
 * database twice, its WAL twice, its shared memory once; see FDS_PER_OPEN_PROJECT) and a closed one
 * none. (A connection opened per checkpoint would not do: SQLite defers the close() of a database
 * descriptor while another connection of the process holds a lock on that file, so the count
 * would depend on whether a checkpoint had run yet.) A database whose file is no
 * longer the one it was told about (replaced, removed) is not touched. It never takes the write
 * lock (no TRUNCATE or RESTART checkpoint: with nothing left to copy they are cheap, but a commit
 * slipping in between would make the serving thread wait for a copy and an fsync); the serving
 * connection reuses the WAL from its start once everything is copied, and its journal_size_limit
 * shrinks the file then.
 */
import { Database, type Statement } from "bun:sqlite";
import { statSync } from "node:fs";

export type ToWorker =
  | { t: "config"; tickMs: number; minIntervalMs: number; growthBytes: number; warnAboveBytes: number; aliveEveryMs: number }
  | { t: "watch"; id: number; path: string }
  | { t: "unwatch"; id: number; seq: number }
  | { t: "checkpointNow"; id: number; seq: number }
  | { t: "stop"; seq: number };

export type FromWorker =
  /** To a checkpointNow, also what its checkpoint did (see `checkpoint`). */
  | { t: "ack"; seq: number; outcome?: CheckpointOutcome }
  | { t: "alive" }
  | { t: "checkpoint"; id: number; walBytes: number; frames: number; copied: number; busy: boolean; ms: number; synced: boolean; lastRoundAt: number }
  | { t: "stuck"; id: number; walBytes: number; frames: number; copied: number }
  | { t: "failed"; id: number; message: string };

/**
 * `complete`: every frame it saw is copied (false: a reader in the way, a failure, not our file).
 * `synced`: a round reached the end of the log, so SQLite fsynced the database file (it does only
 * then: a round that commits overtake copies pages and leaves them unsynced).
 * `lastRoundAt`: when its last round began (`performance.timeOrigin + performance.now()`, the same
 * clock on every thread): what was committed since is not copied.
 */
export interface CheckpointOutcome {
  complete: boolean;
  synced: boolean;
  lastRoundAt: number;
}

interface Watched {
  path: string;
  /** The worker's connection to it (null until it could be opened: tried again at every checkpoint). */
  db: Database | null;
  /** Its `PRAGMA wal_checkpoint(PASSIVE)`, finalized before the connection closes. */
  passive: Statement | null;
  /** dev:ino of the database file when it was watched: a replaced file is not ours. */
  identity: string | null;
  /** size:mtime of the WAL at the last checkpoint, and its size then. */
  lastSeen: string;
  lastBytes: number;
  /** The last checkpoint could not copy every frame (a reader in the way): try again next tick. */
  incomplete: boolean;
  /** The last checkpoint reached the end of the log (the database file is fsynced). */
  synced: boolean;
  lastStuckLogMs: number;
  /** When its last checkpoint ran (performance.now()). */
  lastRunMs: number;
  lastFailure: string;
  lastFailureLogMs: number;
}

declare const self: Worker;

let tickMs = 100;
let minIntervalMs = 1_000;
let growthBytes = 2 * 2 ** 20;
let warnAboveBytes = 256 * 2 ** 20;
let aliveEveryMs = 1_000;
const watched = new Map<number, Watched>();
let timer: ReturnType<typeof setInterval> | null = null;
let alive: ReturnType<typeof setInterval> | null = null;
const STUCK_LOG_EVERY_MS = 60_000;
/** Checkpoints in a row while a writer keeps adding to the log (see `checkpoint`), for so long at most. */
const CATCH_UP_ROUNDS = 16;
const CATCH_UP_MS = 250;

const send = (m: FromWorker): void => postMessage(m);

function identityOf(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

function walState(path: string): { bytes: number; sig: string } | null {
  try {
    const s = statSync(`${path}-wal`);
    return { bytes: s.size, sig: `${s.size}:${s.mtimeMs}` };
  } catch {
    return null; // no WAL (yet, or the last connection closed and removed it)
  }
}

const clock = (): number => performance.timeOrigin + performance.now();
const NOT_DONE: CheckpointOutcome = { complete: false, synced: false, lastRoundAt: 0 };

function checkpoint(id: number, w: Watched, now = false): CheckpointOutcome {
  const wal = walState(w.path);
  if (wal === null) return { complete: true, synced: true, lastRoundAt: clock() };
  // Nothing committed since the last checkpoint: at most what came during its last round is left.
  if (wal.sig === w.lastSeen && !w.incomplete) return { complete: true, synced: w.synced, lastRoundAt: clock() };
  // At most one checkpoint (and so one fsync of the database file) per database per interval:
  // each fsync also slows the serving thread's own WAL fsyncs on the same disk. A clean-up asks
  // for one at once after it has written its share of the WAL (see checkpointer.ts, drainWal).
  // Sooner when the file has grown by `growthBytes` since: the log ran past the file's end before
  // starting over (commits come faster than one checkpoint a second copies), and the first commit
  // after it starts over cuts the file back to its size limit on the serving thread.
  if (!now && performance.now() - w.lastRunMs < minIntervalMs && wal.bytes < w.lastBytes + growthBytes) return NOT_DONE;
  w.lastRunMs = performance.now();
  if (w.identity === null || identityOf(w.path) !== w.identity) return NOT_DONE; // not the file we were given
  const started = performance.now();
  try {
    if (w.db === null) w.db = open(w.path);
    const passive = (w.passive ??= w.db.prepare("PRAGMA wal_checkpoint(PASSIVE)"));
    let lastRoundAt = clock();
    let r = passive.get() as { busy: number; log: number; checkpointed: number };
    let synced = r.log === 0;
    // Catch up: a checkpoint copies the log as it was when it began, and the writer reuses the
    // log from its start only when it finds everything copied. While commits keep coming, copy
    // again at once (each round only what was written during the last one) until a round finds
    // nothing new, rather than letting the log run ahead until the next tick. A round that finds
    // nothing new also tells that the one before reached the end of the log, and so fsynced the
    // database file. What is committed during the last round is left to the serving thread
    // (checkpointer.ts, finishCheckpoint), which then has only those few pages to fsync.
    for (let round = 0; round < CATCH_UP_ROUNDS && performance.now() - started < CATCH_UP_MS && r.busy === 0 && r.log > 0 && r.checkpointed === r.log; round++) {
      lastRoundAt = clock();
      const again = passive.get() as { busy: number; log: number; checkpointed: number };
      const caughtUp = again.log <= r.log; // nothing new, or the log restarted (after a synced checkpoint)
      r = again;
      if (caughtUp) {
        synced = true;
        break;
      }
    }
    w.lastFailure = "";
    const incomplete = r.busy !== 0 || r.checkpointed < r.log;
    w.incomplete = incomplete;
    w.synced = synced && !incomplete;
    const after = walState(w.path);
    w.lastSeen = after?.sig ?? "";
    w.lastBytes = after?.bytes ?? 0;
    send({ t: "checkpoint", id, walBytes: after?.bytes ?? 0, frames: r.log, copied: r.checkpointed, busy: r.busy !== 0, ms: performance.now() - started, synced: w.synced, lastRoundAt });
    const now = performance.now();
    if (incomplete && wal.bytes > warnAboveBytes && now - w.lastStuckLogMs > STUCK_LOG_EVERY_MS) {
      w.lastStuckLogMs = now;
      send({ t: "stuck", id, walBytes: wal.bytes, frames: r.log, copied: r.checkpointed });
    }
    return { complete: !incomplete, synced: w.synced, lastRoundAt };
  } catch (e) {
    // A full disk or a read-only mount: tried again every tick, told at most once a minute.
    w.incomplete = true;
    const message = e instanceof Error ? e.message : String(e);
    const now = performance.now();
    if (message !== w.lastFailure || now - w.lastFailureLogMs > STUCK_LOG_EVERY_MS) {
      w.lastFailure = message;
      w.lastFailureLogMs = now;
      send({ t: "failed", id, message });
    }
    return NOT_DONE;
  }
}

/**
 * The worker's connection to a watched database. It reads the schema version at once, so its WAL
 * is open from the start too (a fixed number of descriptors from the moment it is watched).
 */
function open(path: string): Database {
  const db = new Database(path, { readwrite: true, create: false });
  try {
    // Never wait: the serving thread must not find its own lock taken by a waiting checkpoint.
    // A checkpoint copies frames without the page cache: a small one is enough.
    db.exec("PRAGMA busy_timeout=0; PRAGMA cache_size=-64");
    const version = db.prepare("PRAGMA schema_version");
    version.get();
    version.finalize();
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Closes the worker's connection to `w` (its one statement first, so the close is immediate). */
function close(w: Watched): void {
  w.passive?.finalize();
  w.passive = null;
  w.db?.close();
  w.db = null;
}

function watch(id: number, path: string): void {
  const w: Watched = { path, db: null, passive: null, identity: identityOf(path), lastSeen: "", lastBytes: 0, incomplete: false, synced: false, lastStuckLogMs: -Infinity, lastRunMs: -Infinity, lastFailure: "", lastFailureLogMs: -Infinity };
  watched.set(id, w);
  if (w.identity === null) return;
  try {
    w.db = open(path);
  } catch {
    // opened again at its first checkpoint (a failure then is told)
  }
}

function unwatch(id: number): void {
  const w = watched.get(id);
  if (w) close(w);
  watched.delete(id);
}

function tick(): void {
  for (const [id, w] of watched) checkpoint(id, w);
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  switch (m.t) {
    case "config":
      tickMs = m.tickMs;
      minIntervalMs = m.minIntervalMs;
      growthBytes = m.growthBytes;
      warnAboveBytes = m.warnAboveBytes;
      aliveEveryMs = m.aliveEveryMs;
      if (timer !== null) clearInterval(timer);
      if (alive !== null) clearInterval(alive);
      timer = setInterval(tick, tickMs);
      alive = setInterval(() => send({ t: "alive" }), aliveEveryMs);
      send({ t: "alive" });
      return;
    case "watch":
      watch(m.id, m.path);
      return;
    case "checkpointNow": {
      const w = watched.get(m.id);
      send({ t: "ack", seq: m.seq, outcome: w ? checkpoint(m.id, w, true) : NOT_DONE });
      return;
    }
    case "unwatch":
      // Messages and ticks run one at a time here: once this is answered, no checkpoint of that
      // database is running or will run, and the worker's connection to it is closed.
      unwatch(m.id);
      send({ t: "ack", seq: m.seq });
      return;
    case "stop":
      for (const id of [...watched.keys()]) unwatch(id);
      if (timer !== null) clearInterval(timer);
      if (alive !== null) clearInterval(alive);
      timer = alive = null;
      send({ t: "ack", seq: m.seq });
      return;
  }
};
