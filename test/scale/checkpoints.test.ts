/**
 * WAL checkpoints on the checkpoint thread (src/storage/sqlite/checkpointer.ts): a serving
 * connection never runs SQLite's automatic checkpoint (which copies pages into the database file
 * and fsyncs it inside a request's commit); one Worker does it on its own connection, lets go of a
 * database before its connection closes, and leaves no descriptor behind.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeProjectDb, openProjectDb } from "../../src/storage/sqlite/open.ts";
import {
  CHECKPOINT_GROWTH_BYTES,
  CHECKPOINT_MIN_INTERVAL_MS,
  checkpointerStats,
  drainWal,
  FINISH_ABOVE_FRAMES,
  isWatched,
  onCheckpoint,
  setCheckpointLimits,
  unwatchCheckpoints,
  watchCheckpoints,
  type CheckpointEvent,
} from "../../src/storage/sqlite/checkpointer.ts";
import { Database as SqliteDatabase } from "bun:sqlite";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, signUp } from "../helpers/auth.ts";
import { waitFor } from "../ops/helpers.ts";

const dirs: string[] = [];
let inst: TestInstance | undefined;
afterEach(async () => {
  setCheckpointLimits({});
  await inst?.close();
  inst = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const silent = { warn: () => undefined, error: () => undefined };

/** Descriptors of this process pointing at `prefix...` files. */
function openFiles(prefix: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(prefix) ? [target] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The WAL header's checkpoint sequence number (bytes 12..15, big-endian): SQLite adds one each time
 * the log is reused from its start, which it does only after a checkpoint copied all of it.
 */
function walResets(path: string): number {
  const header = readFileSync(`${path}-wal`).subarray(0, 32);
  return header.readUInt32BE(12);
}

const pragma = (db: Database, name: string): number => Number(Object.values(db.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0]);

/** A project database in a temp dir with a `filler` table to write into. */
function demoDb(): { dir: string; path: string; db: Database } {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-ckpt-"));
  dirs.push(dir);
  const path = join(dir, "demo.db");
  const db = openProjectDb(path, { projectId: "demo", nowIso: new Date().toISOString() });
  db.exec("CREATE TABLE filler(id INTEGER PRIMARY KEY, body BLOB)");
  return { dir, path, db };
}

/** The same, with the checkpoint events of that file collected (`off` stops collecting). */
function watchedDemoDb(): ReturnType<typeof demoDb> & { events: CheckpointEvent[]; off: () => void } {
  const made = demoDb();
  const events: CheckpointEvent[] = [];
  const off = onCheckpoint((e) => {
    if (e.path === made.path) events.push(e);
  });
  return { ...made, events, off };
}

describe("the checkpoint thread", () => {
  it("checkpoints a watched database while a loop writes, and the WAL starts over once the writes pause", async () => {
    const { dir, path, db, events, off } = watchedDemoDb();
    try {
      watchCheckpoints(db, path, silent);
      expect(isWatched(db)).toBe(true);
      // The serving connection does not checkpoint by itself any more.
      expect(pragma(db, "wal_autocheckpoint")).toBe(0);
      expect(checkpointerStats().running).toBe(true);

      const insert = db.query("INSERT INTO filler(body) VALUES (?)");
      const row = new Uint8Array(3_000).fill(7);
      const resetsBefore = walResets(path);
      const dbBytesBefore = statSync(path).size;
      let written = 0;
      // At least 12 MiB, and long enough for two checkpoints: the worker checkpoints one database
      // at most once a second, so on a fast machine 12 MiB alone can be written in under a second.
      const started = performance.now();
      while (written < 12 * 2 ** 20 || performance.now() - started < 2_500) {
        db.transaction(() => {
          for (let i = 0; i < 20; i++) insert.run(row);
        })();
        written += 20 * row.length;
        await Bun.sleep(3); // the event loop runs between commits, as in the server
      }
      // Pages reach the database file only through checkpoints, and the serving connection does
      // none: the worker copied them while the loop wrote (several times over).
      expect(pragma(db, "wal_autocheckpoint")).toBe(0);
      expect(events.filter((e) => e.copied > 0).length).toBeGreaterThanOrEqual(2);
      expect(statSync(path).size - dbBytesBefore).toBeGreaterThan(4 * 2 ** 20);
      // Once the writes pause, the worker catches up and the next commit starts the log over.
      await waitFor("a checkpoint that copied the whole WAL", () => events.some((e) => !e.busy && e.frames > 0 && e.copied === e.frames), 5_000);
      await Bun.sleep(1_500); // past the worker's interval between two checkpoints
      insert.run(row);
      expect(walResets(path) - resetsBefore).toBeGreaterThanOrEqual(1);
      expect(pragma(db, "wal_autocheckpoint")).toBe(0);
      // Every row is there.
      expect((db.query("SELECT count(*) AS n FROM filler").get() as { n: number }).n * row.length).toBe(written + row.length);
    } finally {
      off();
      await unwatchCheckpoints(db);
      closeProjectDb(db);
    }
    // The worker stops with its last database, and the connection's descriptors are all gone.
    expect(checkpointerStats().running).toBe(false);
    expect(openFiles(path)).toEqual([]);
  }, 30_000);

  /**
   * A writer that commits about every millisecond (as a busy server does): commits land between
   * the worker's last round and the next write, so without the serving thread's share of the
   * checkpoint (finishCheckpoint) the log does not start over. The pause lets the worker's rounds
   * reach the end of the log now and then: the share runs only after such a checkpoint (SQLite
   * fsyncs the database file only then, and the serving thread must not fsync megabytes), and
   * with no pause at all, on a loaded machine, no round got there.
   */
  async function withBusyWriter(db: Database, rowBytes: number, fn: (write: () => void) => Promise<void>): Promise<number> {
    const insert = db.query("INSERT INTO filler(body) VALUES (?)");
    const row = new Uint8Array(rowBytes).fill(7);
    let stop = false;
    let commits = 0;
    const write = (): void => {
      insert.run(row);
      commits++;
    };
    const writer = (async () => {
      while (!stop) {
        write();
        await Bun.sleep(1);
      }
    })();
    try {
      await fn(write);
    } finally {
      stop = true;
      await writer;
    }
    return commits;
  }

  it("after a drain (a clean-up's settle), the next write starts the log over while a writer commits every millisecond", async () => {
    const { path, db } = demoDb();
    try {
      watchCheckpoints(db, path, silent);
      const finishesBefore = checkpointerStats().finishes;
      const outcomes: boolean[] = [];
      // Small rows: the log between two drains mostly stays under FINISH_ABOVE_FRAMES, so it is
      // the drain's own share that is asserted, not the one after a large checkpoint (below):
      // without the drain's share (the other one in place), this failed in every run tried.
      const commits = await withBusyWriter(db, 500, async (write) => {
        for (let i = 0; i < 8; i++) {
          await Bun.sleep(150);
          const resets = walResets(path);
          await drainWal(db);
          write();
          outcomes.push(walResets(path) > resets);
        }
      });
      expect(commits).toBeGreaterThan(200); // the writer did commit all along
      // A drain whose rounds did not reach the end of the log is not finished (see above), and
      // the serving thread may find the worker holding the checkpoint lock: most drains, not all,
      // are asserted (8 of 8 here, also with three CPU hogs; 0 to 2 without the drain's share).
      expect({ outcomes, restarted: outcomes.filter(Boolean).length >= 5 }).toMatchObject({ restarted: true });
      expect(checkpointerStats().finishes - finishesBefore).toBeGreaterThanOrEqual(5);
    } finally {
      await unwatchCheckpoints(db);
      closeProjectDb(db);
    }
    expect(openFiles(path)).toEqual([]);
  }, 30_000);

  it("after a checkpoint of a log of 4 MiB or more, the next write starts it over while a writer commits every millisecond", async () => {
    const { path, db, events, off } = watchedDemoDb();
    const outcomes: boolean[] = [];
    try {
      watchCheckpoints(db, path, silent);
      await withBusyWriter(db, 8_000, async (write) => {
        // A listener runs after the serving thread's share of that checkpoint: its write is the
        // first one since.
        const offLarge = onCheckpoint((e) => {
          if (e.path !== path || e.busy || e.copied !== e.frames || e.frames < FINISH_ABOVE_FRAMES) return;
          const resets = walResets(path);
          write();
          outcomes.push(walResets(path) > resets);
        });
        try {
          await waitFor("six checkpoints of a large log", () => outcomes.length >= 6, 20_000);
        } finally {
          offLarge();
        }
      });
      expect(events.length).toBeGreaterThanOrEqual(6);
      // 6 of 6 in every run tried, also with three CPU hogs; 0 or 1 without that share.
      expect({ outcomes, restarted: outcomes.filter(Boolean).length >= 4 }).toMatchObject({ restarted: true });
    } finally {
      off();
      await unwatchCheckpoints(db);
      closeProjectDb(db);
    }
  }, 40_000);

  it("checkpoints again before its one-second interval once the WAL file has grown by CHECKPOINT_GROWTH_BYTES", async () => {
    const { path, db, events, off } = watchedDemoDb();
    try {
      watchCheckpoints(db, path, silent);
      db.query("INSERT INTO filler(body) VALUES (randomblob(1000))").run();
      await waitFor("a first checkpoint", () => events.length > 0, 5_000);
      const firstAt = performance.now();
      const seen = events.length;
      // One commit that grows the file past the limit at once.
      db.transaction(() => {
        for (let i = 0; i < 30; i++) db.query("INSERT INTO filler(body) VALUES (randomblob(100000))").run();
      })();
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(CHECKPOINT_GROWTH_BYTES);
      await waitFor("the next checkpoint", () => events.length > seen, 5_000);
      // Without the growth rule it comes a second after the first one began, at the earliest.
      expect(performance.now() - firstAt).toBeLessThan(CHECKPOINT_MIN_INTERVAL_MS * 0.7);
    } finally {
      off();
      await unwatchCheckpoints(db);
      closeProjectDb(db);
    }
  }, 30_000);

  it("lets go of a database before it closes: no checkpoint after, no descriptor left", async () => {
    const { dir, path, db, events, off } = watchedDemoDb();
    // Another open database keeps the worker running after this one is let go.
    const otherPath = join(dir, "other.db");
    const other = openProjectDb(otherPath, { projectId: "other", nowIso: new Date().toISOString() });
    try {
      watchCheckpoints(other, otherPath, silent);
      watchCheckpoints(db, path, silent);
      db.query("INSERT INTO filler(body) VALUES (randomblob(50000))").run();
      await waitFor("a first checkpoint", () => events.length > 0, 5_000);
      // While watched: the database and its WAL for each of the two connections (the serving one
      // and the checkpoint thread's), the shared memory once (FDS_PER_OPEN_PROJECT).
      expect(openFiles(`${path}-wal`).length).toBe(2);
      expect(openFiles(`${path}-shm`).length).toBe(1);
      expect(openFiles(path).filter((f) => f === path).length).toBe(2);
      await unwatchCheckpoints(db);
      // Let go: the thread's connection is closed. Its WAL descriptor goes at once; SQLite keeps its
      // database descriptor while the serving connection holds a lock on the file (POSIX locks are
      // per process), and closes it with that connection (asserted at the end).
      expect(openFiles(`${path}-wal`).length).toBe(1);
      expect(openFiles(path).filter((f) => f === path).length).toBe(2);
      expect(isWatched(db)).toBe(false);
      // The connection does its own checkpoints again until it closes.
      expect(pragma(db, "wal_autocheckpoint")).toBe(1_000);
      const seen = events.length;
      const dbFile = (): string => `${statSync(path).size}:${statSync(path).mtimeMs}`;
      const before = dbFile();
      db.query("INSERT INTO filler(body) VALUES (randomblob(50000))").run();
      await Bun.sleep(1_300); // past the worker's interval between two checkpoints of one database
      expect(events.length).toBe(seen);
      // Nothing was copied into the database file (a checkpoint would have written it).
      expect(dbFile()).toBe(before);
      expect(checkpointerStats()).toMatchObject({ running: true, watched: 1 });
    } finally {
      off();
      closeProjectDb(db);
      await unwatchCheckpoints(other);
      closeProjectDb(other);
    }
    expect(openFiles(path)).toEqual([]);
  }, 30_000);

  it("with a reader holding an old snapshot: logs the growing WAL, lets the serving connection help, and starts over once the reader ends", async () => {
    const { path, db } = demoDb();
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log = { warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }), error: () => undefined };
    setCheckpointLimits({ warnBytes: 2 ** 20, helpBytes: 2 * 2 ** 20 });
    const reader = new SqliteDatabase(path);
    try {
      watchCheckpoints(db, path, log);
      db.query("INSERT INTO filler(body) VALUES (randomblob(1000))").run();
      // Another connection's read transaction keeps the snapshot of this moment.
      reader.exec("BEGIN");
      expect((reader.query("SELECT count(*) AS n FROM filler").get() as { n: number }).n).toBe(1);
      const resets = walResets(path);
      for (let i = 0; i < 60; i++) {
        db.query("INSERT INTO filler(body) VALUES (randomblob(100000))").run();
        await Bun.sleep(15);
      }
      await waitFor("the stuck-WAL warning", () => warnings.find((w) => /cannot be checkpointed to its end/.test(w.msg)), 5_000);
      // No checkpoint could start the log over past the reader, so it grew with every write...
      expect(walResets(path)).toBe(resets);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(4 * 2 ** 20);
      // ...and past the help limit the serving connection checkpoints by itself again.
      expect(pragma(db, "wal_autocheckpoint")).toBe(1_000);
      reader.exec("COMMIT");
      for (let i = 0; i < 5; i++) {
        db.query("INSERT INTO filler(body) VALUES (randomblob(1000))").run();
        await Bun.sleep(150);
      }
      await waitFor("the WAL started over", () => walResets(path) > resets, 5_000);
      // Back to a small log: the worker does the checkpoints alone again.
      await waitFor("the automatic checkpoint off again", () => pragma(db, "wal_autocheckpoint") === 0, 5_000);
    } finally {
      reader.close();
      await unwatchCheckpoints(db);
      closeProjectDb(db);
    }
  }, 30_000);

  it("follows a project through the pool: watched while open, let go and closed with no descriptor when the LRU closes it", async () => {
    inst = await createTestInstance([authSpec({ id: "aa" }), authSpec({ id: "bb" })], { boot: { maxOpenProjects: 1 } });
    const t = inst;
    const aPath = join(t.dataDir, "aa.db");
    const events: CheckpointEvent[] = [];
    const off = onCheckpoint((e) => {
      if (e.path === aPath) events.push(e);
    });
    try {
      await signUp(t, "alice@example.com", { project: "aa" });
      const aa = t.booted.projects.openRuntime("aa");
      expect(aa).not.toBeNull();
      expect(isWatched(aa!.db)).toBe(true);
      expect(pragma(aa!.db, "wal_autocheckpoint")).toBe(0);
      await waitFor("a checkpoint of aa", () => events.length > 0, 5_000);

      // Opening bb closes aa (one open project allowed).
      await signUp(t, "bob@example.com", { project: "bb" });
      expect(t.booted.projects.openRuntime("aa")).toBeNull();
      await waitFor("aa's database closed", () => openFiles(aPath).length === 0, 10_000);
      expect(isWatched(aa!.db)).toBe(false);
      const seen = events.length;
      await Bun.sleep(300);
      expect(events.length).toBe(seen);
      expect(checkpointerStats().watched).toBe(1);
    } finally {
      off();
    }
    await t.close();
    inst = undefined;
    // Shutdown lets go of every database and stops the worker.
    expect(checkpointerStats()).toMatchObject({ running: false, watched: 0 });
    expect(openFiles(t.dataDir)).toEqual([]);
  }, 60_000);
});
