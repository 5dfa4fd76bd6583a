/**
 * The projects of a server and their open databases. Every configured project has a slot (its
 * validated configuration and a little state); its database is open only while it is used: a
 * request opens it (one open, a few milliseconds), and it closes again when it has been idle for
 * `idleCloseMs` or when more than `maxOpen` projects are open (the least recently used goes
 * first). A closed project costs its configuration in memory and nothing else: no file
 * descriptor, no page cache, no timer, no prepared statement.
 *
 * Guarantees that do not depend on the project being open:
 * - rate-limit counters, refresh tokens, the outbox... live in the database (SPEC §4);
 * - a project closed with mail still pending gets a timer for its earliest retry, which opens it
 *   again so its sender delivers (and a pass over closed projects finds mail a crash left behind);
 * - housekeeping runs while a project is open and, for projects that stay closed, once a day.
 *
 * A closed runtime's database closes only once every request that began before the closing has
 * ended (those requests keep the runtime they started with); requests that begin later open a
 * new runtime.
 */
import type { ProjectConfig } from "../config/types.ts";
import type { InflightTracker } from "../http/inflight.ts";
import { wakeOutbox } from "../mail/outbox.ts";
import { closeProjectDb, DbOpenError } from "../storage/sqlite/open.ts";
import { sqliteDatabaseOf } from "../storage/sqlite/store.ts";
import { sqliteCode } from "../storage/sqlite/storage-cause.ts";
import { unwatchCheckpoints, watchCheckpoints } from "../storage/sqlite/checkpointer.ts";
import { join } from "node:path";
import { checkProjectDb, checkProjectPlugins, loadProjectRuntime, planProjectDb, rememberPlan, type PlanCache, type ProjectRuntime, type ServerDeps } from "./runtime.ts";
import { HOUSEKEEPING_EVERY_MS, runHousekeeping, type HousekeepingState } from "./housekeeping.ts";

/** Closed projects get their housekeeping this often (open ones hourly). */
export const CLOSED_HOUSEKEEPING_EVERY_MS = 24 * HOUSEKEEPING_EVERY_MS;
/** An open project with no request for this long is closed. */
export const DEFAULT_IDLE_CLOSE_MS = 10 * 60_000;
/** How long a closing database waits for the requests that began before its closing. */
const CLOSE_DRAIN_MS = 60_000;
/**
 * File descriptors one open project holds: the database, its WAL and its shared-memory file, and
 * the database descriptor SQLite keeps from the checkpoint thread's connection while the file is
 * locked (storage/sqlite/checkpointer.ts).
 */
export const FDS_PER_OPEN_PROJECT = 4;
/** Descriptors kept for sockets, the binary, logs and projects still closing. */
const FD_RESERVE = 512;
const MAX_DEFAULT_OPEN = 1_000;

/** The default `--max-open-projects`: well inside the open-files limit, at most 1,000. */
export function defaultMaxOpenProjects(openFilesLimit: number | null): number {
  if (openFilesLimit === null || !Number.isFinite(openFilesLimit)) return MAX_DEFAULT_OPEN;
  // Half of what the descriptors left after the reserve would allow: sockets need the rest.
  const fit = Math.floor((openFilesLimit - FD_RESERVE) / FDS_PER_OPEN_PROJECT / 2);
  return Math.max(1, Math.min(MAX_DEFAULT_OPEN, fit));
}

/** The soft open-files limit of this process (Linux), or null when it cannot be read. */
export function readOpenFilesLimit(): number | null {
  try {
    const text = require("node:fs").readFileSync("/proc/self/limits", "utf8") as string;
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return null;
    return m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

const REMOVED_CLOSED_MSG = "database of a removed project closed (the file is kept)";

/**
 * Opening an already-checked project failed (a missing file, no descriptor left...): retry later.
 * `busy`: another process holds the database's write lock (a backup, the sqlite3 shell); the
 * request may wait for it (see http/storage-wait.ts).
 */
export class ProjectOpenError extends Error {
  override readonly name = "ProjectOpenError";
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}

const LOCK_CODE = /^SQLITE_(BUSY|LOCKED)/;

/** The open failed only because another process holds the write lock: not the project's fault. */
export function isLockedElsewhere(e: unknown): boolean {
  const code = e instanceof DbOpenError ? e.sqliteCode : sqliteCode(e);
  return code !== null && LOCK_CODE.test(code);
}

export interface PoolOptions {
  readonly deps: ServerDeps;
  readonly maxOpen: number;
  readonly idleCloseMs?: number;
  readonly inflight?: InflightTracker;
  /** Starts an opened runtime's background work (mail sender, housekeeping); null: none (tests). */
  readonly startBackground: ((runtime: ProjectRuntime, housekeeping: HousekeepingState, mail: { lastHousekeepingMs: number }) => void) | null;
  /** A project could not be checked or opened for the first time: it answers 503 from now on. */
  onFailed(config: ProjectConfig, error: unknown): void;
  onGeneratedKeys(id: string, keys: { admin?: string; public?: string }): void;
}

interface Slot {
  config: ProjectConfig;
  /** Opened and checked once by this process (schema applied, keys reconciled). */
  checked: boolean;
  /**
   * Its schema was planned at boot (read-only, integrity checked, or untouched since a boot that
   * checked it) and found in sync: its first open skips the integrity check.
   */
  planned: boolean;
  open: ProjectRuntime | null;
  housekeeping: HousekeepingState;
  addedMs: number;
  mailHousekeeping: { lastHousekeepingMs: number };
  mailTimer: ReturnType<typeof setTimeout> | null;
}

export interface PoolStats {
  readonly configured: number;
  readonly open: number;
  /** Runtimes taken out of use whose database still waits for older requests. */
  readonly closing: number;
  readonly opens: number;
  readonly closes: number;
}

export interface ProjectPool {
  /** The project's runtime, opening its database when it is closed; undefined for an unknown project. */
  get(id: string): ProjectRuntime | undefined;
  /** A configured project that loaded (open or closed). */
  has(id: string): boolean;
  readonly size: number;
  keys(): IterableIterator<string>;
  /** Opens every project (tests and tools; the server itself never does this). */
  values(): ProjectRuntime[];
  /** The project's configuration without opening it (CORS, labels, reload). */
  configOf(id: string): ProjectConfig | undefined;
  /** The open runtime, or null when the project is closed (or unknown); never opens. */
  openRuntime(id: string): ProjectRuntime | null;
  /** Every runtime open now (metrics, shutdown). */
  openRuntimes(): ProjectRuntime[];
  /**
   * Adds a project, closed (boot, reload). With `check`, its database is opened once now: the
   * schema plan is applied and the keys reconciled (throws when that fails; the project is then
   * not added).
   */
  add(config: ProjectConfig, opts: { check: boolean; onGeneratedKeys?: (keys: { admin?: string; public?: string }) => void }): void | Promise<void>;
  /** Whether the project was opened and checked by this process. */
  isChecked(id: string): boolean;
  /**
   * Opens an added project once, unless that already happened, to apply its schema plan and
   * reconcile its keys, then closes it. A failure removes the project and throws.
   */
  check(id: string, onGeneratedKeys?: (keys: { admin?: string; public?: string }) => void, plans?: PlanCache): void | Promise<void>;
  /** Replaces the configuration of a project (reload): open ones are rebuilt on their connection. */
  replace(config: ProjectConfig): { generatedKeys: { admin?: string; public?: string } } | Promise<{ generatedKeys: { admin?: string; public?: string } }>;
  /** Removes a project (reload): it answers 404 at once; an open database closes after its requests. */
  remove(id: string): void;
  /** Closes the least recently used projects above the limit, and those idle too long. */
  sweep(): void;
  /**
   * The housekeeping of projects that stayed closed for a day since their last one (or since
   * they were added): each is opened briefly, cleaned and closed again, one at a time. Runs every
   * hour by itself; resolves when the pass is over.
   */
  housekeepClosed(): Promise<void>;
  stats(): PoolStats;
  close(): Promise<void>;
}

export function createProjectPool(opts: PoolOptions): ProjectPool {
  const { deps } = opts;
  const idleCloseMs = opts.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS;
  const slots = new Map<string, Slot>();
  /** Open runtimes, least recently used first (a Map keeps insertion order). */
  const lru = new Map<string, { runtime: ProjectRuntime; lastUsedMs: number }>();
  const closing = new Set<Promise<void>>();
  /**
   * Connections of runtimes taken out of use whose closing still waits for older requests. A
   * request that reopens the project meanwhile takes the connection back instead of opening a
   * second one: two connections to one file in one process would leave a descriptor open after
   * the first closes (SQLite keeps it while the other holds a lock on the file, and a WAL-mode
   * connection always holds one).
   */
  const closingConnections = new Map<string, { db: ProjectRuntime["db"]; adopted: boolean }>();
  let opens = 0;
  let closes = 0;
  let closed = false;

  const log = deps.log;

  const clearMailTimer = (slot: Slot): void => {
    if (slot.mailTimer !== null) clearTimeout(slot.mailTimer);
    slot.mailTimer = null;
  };

  /** Comes back for a closed project's pending mail at its earliest retry time. */
  const scheduleMail = (id: string, atMs: number | null): void => {
    const slot = slots.get(id);
    if (!slot || atMs === null || closed) return;
    clearMailTimer(slot);
    const delay = Math.min(2_147_000_000, Math.max(0, atMs - deps.now()));
    slot.mailTimer = setTimeout(() => {
      slot.mailTimer = null;
      if (closed || slots.get(id) !== slot || slot.open) return;
      try {
        openSlot(id, slot); // its sender starts and delivers; idleness closes it again later
      } catch (e) {
        log.warn("cannot open a project to deliver its pending mail; retrying in a minute", { project: id, error: messageOf(e) });
        scheduleMail(id, deps.now() + 60_000);
      }
    }, delay);
    slot.mailTimer.unref?.();
  };

  const openSlot = (id: string, slot: Slot): ProjectRuntime => {
    let runtime: ProjectRuntime;
    const closingDb = closingConnections.get(id);
    try {
      const loaded = loadProjectRuntime(slot.config, deps, {
        alreadyChecked: slot.checked || slot.planned,
        ...(closingDb ? { db: closingDb.db } : {}),
      });
      runtime = loaded.runtime;
      if (closingDb) {
        closingDb.adopted = true;
        closingConnections.delete(id);
      }
      if (loaded.generatedKeys.admin || loaded.generatedKeys.public) opts.onGeneratedKeys(id, loaded.generatedKeys);
    } catch (e) {
      const busy = isLockedElsewhere(e);
      if (!slot.checked && !busy) {
        slots.delete(id);
        clearMailTimer(slot);
        opts.onFailed(slot.config, e);
        throw e;
      }
      if (busy) log.warn("a project database is locked by another process; its open waits", { project: id, error: messageOf(e) });
      else log.error("cannot open a project database", { project: id, error: messageOf(e) });
      throw new ProjectOpenError(messageOf(e), busy);
    }
    slot.checked = true;
    slot.open = runtime;
    clearMailTimer(slot);
    // Its WAL checkpoints run on the checkpoint thread, not inside a request's commit.
    watchCheckpoints(runtime.db, join(deps.dataDir, `${id}.db`), log);
    opens++;
    lru.set(id, { runtime, lastUsedMs: performance.now() });
    opts.startBackground?.(runtime, slot.housekeeping, slot.mailHousekeeping);
    enforceLimit(id);
    return runtime;
  };

  /** Takes a runtime out of use; its database closes once older requests are done. */
  const closeRuntime = (id: string, slot: Slot | undefined, runtime: ProjectRuntime, why: string): void => {
    lru.delete(id);
    if (slot && slot.open === runtime) slot.open = null;
    closes++;
    const connection = { db: runtime.db, adopted: false };
    closingConnections.set(id, connection);
    const ownEntry = (): boolean => closingConnections.get(id) === connection;
    const done = (async () => {
      try {
        await runtime.release();
      } catch (e) {
        log.warn("stopping a project's background work failed", { project: id, error: messageOf(e) });
      }
      if (opts.inflight) await opts.inflight.drained(CLOSE_DRAIN_MS);
      // The checkpoint thread lets go of the database first; a request may still take the
      // connection back meanwhile (its runtime watches it again).
      if (!connection.adopted && ownEntry()) await unwatchCheckpoints(runtime.db);
      if (connection.adopted || !ownEntry()) {
        // Reopened meanwhile on this same connection: the new runtime owns it (and its outbox).
        if (connection.adopted) log.debug("project reopened before its database closed; connection kept", { project: id });
        return;
      }
      closingConnections.delete(id);
      try {
        // Mail a request enqueued on this runtime after its sender stopped: hand it on.
        const next = await runtime.store.outbox.nextDueAt();
        if (next !== null) {
          const current = slots.get(id);
          if (current?.open) wakeOutbox(current.open);
          else if (current) scheduleMail(id, next);
        }
      } catch {
        // a database that cannot be read now: the next open looks at the outbox anyway
      }
      try {
        closeProjectDb(sqliteDatabaseOf(runtime.store));
      } catch (e) {
        log.error("closing a project database failed", { project: id, error: messageOf(e) });
        return;
      }
      if (why === "removed") log.info(REMOVED_CLOSED_MSG, { project: id });
      else log.debug("project database closed", { project: id, reason: why });
    })();
    closing.add(done);
    void done.finally(() => closing.delete(done));
  };

  const enforceLimit = (keep: string): void => {
    if (lru.size <= opts.maxOpen) return;
    for (const [id, entry] of lru) {
      if (lru.size <= opts.maxOpen) break;
      if (id === keep) continue;
      closeRuntime(id, slots.get(id), entry.runtime, "open-projects limit");
    }
  };

  const sweep = (): void => {
    const idleBefore = performance.now() - idleCloseMs;
    for (const [id, entry] of lru) {
      if (entry.lastUsedMs > idleBefore) break; // least recently used first: the rest are newer
      closeRuntime(id, slots.get(id), entry.runtime, "idle");
    }
    enforceLimit("");
  };
  const sweeper = setInterval(sweep, Math.max(10, Math.min(30_000, Math.floor(idleCloseMs / 2))));
  sweeper.unref?.();

  // Once a day, the housekeeping of projects that stayed closed (one at a time, opened briefly).
  let sweepingClosed = false;
  const housekeepClosed = async (): Promise<void> => {
    if (sweepingClosed) return;
    sweepingClosed = true;
    try {
      for (const [id, slot] of [...slots]) {
        if (closed) return;
        if (slot.open || slots.get(id) !== slot || deps.now() - Math.max(slot.addedMs, slot.housekeeping.lastRunMs) < CLOSED_HOUSEKEEPING_EVERY_MS) continue;
        try {
          const runtime = openSlot(id, slot);
          const openedAt = lru.get(id)?.lastUsedMs;
          slot.housekeeping.lastRunMs = deps.now();
          await runHousekeeping(runtime, { shouldStop: () => slot.open !== runtime });
          // Closed again unless a request used it meanwhile.
          const entry = lru.get(id);
          if (entry && entry.runtime === runtime && entry.lastUsedMs === openedAt) {
            closeRuntime(id, slot, runtime, "housekeeping done");
          }
        } catch (e) {
          log.warn("housekeeping of a closed project failed", { project: id, error: messageOf(e) });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      sweepingClosed = false;
    }
  };
  const closedHousekeeper = setInterval(() => void housekeepClosed(), HOUSEKEEPING_EVERY_MS);
  closedHousekeeper.unref?.();

  const get = (id: string): ProjectRuntime | undefined => {
    const entry = lru.get(id);
    if (entry) {
      // Most recently used goes last.
      lru.delete(id);
      entry.lastUsedMs = performance.now();
      lru.set(id, entry);
      return entry.runtime;
    }
    const slot = slots.get(id);
    if (!slot || closed) return undefined;
    return openSlot(id, slot);
  };

  const pool: ProjectPool = {
    get,
    has: (id) => slots.has(id),
    get size() {
      return slots.size;
    },
    keys: () => slots.keys(),
    values: () => [...slots.keys()].flatMap((id) => get(id) ?? []),
    configOf: (id) => slots.get(id)?.config,
    openRuntime: (id) => lru.get(id)?.runtime ?? null,
    openRuntimes: () => [...lru.values()].map((e) => e.runtime),
    isChecked: (id) => slots.get(id)?.checked === true,
    add(config, { check, onGeneratedKeys }) {
      slots.set(config.id, {
        config,
        checked: false,
        planned: false,
        open: null,
        // Open projects get their first housekeeping shortly after opening, closed ones a day after boot.
        housekeeping: { lastRunMs: -Infinity },
        addedMs: deps.now(),
        mailHousekeeping: { lastHousekeepingMs: -Infinity },
        mailTimer: null,
      });
      if (check) pool.check(config.id, onGeneratedKeys);
    },
    check(id, onGeneratedKeys, plans) {
      const slot = slots.get(id);
      if (!slot || slot.checked) return;
      if (slot.planned) return;
      let checked;
      try {
        checkProjectPlugins(slot.config, deps);
        const planned = planProjectDb(slot.config, deps, plans);
        slot.planned = true;
        if (planned.inSync) {
          // Nothing to apply: the full load (integrity check, keys, secrets) waits for the first request.
          scheduleMail(id, planned.nextMailAt);
          return;
        }
        checked = checkProjectDb(slot.config, deps);
      } catch (e) {
        slots.delete(id);
        throw e;
      }
      if (checked.generatedKeys.admin || checked.generatedKeys.public) {
        if (onGeneratedKeys) onGeneratedKeys(checked.generatedKeys);
        else opts.onGeneratedKeys(id, checked.generatedKeys);
      }
      slot.checked = true;
      if (plans) rememberPlan(plans, slot.config, deps, checked.nextMailAt);
      scheduleMail(id, checked.nextMailAt);
    },
    replace(config) {
      const slot = slots.get(config.id);
      if (!slot) throw new Error(`no project ${config.id}`);
      const old = slot.open;
      if (old === null) {
        checkProjectPlugins(config, deps);
        const checked = checkProjectDb(config, deps);
        slot.config = config;
        slot.checked = true;
        scheduleMail(config.id, checked.nextMailAt);
        return { generatedKeys: checked.generatedKeys };
      }
      // Rebuilt on the open connection, so requests still running on the old runtime never meet a
      // closed database; a failure leaves the old runtime serving.
      const loaded = loadProjectRuntime(config, deps, { db: sqliteDatabaseOf(old.store), alreadyChecked: true });
      slot.config = config;
      slot.open = loaded.runtime;
      const entry = lru.get(config.id);
      if (entry) entry.runtime = loaded.runtime;
      else lru.set(config.id, { runtime: loaded.runtime, lastUsedMs: performance.now() });
      opts.startBackground?.(loaded.runtime, slot.housekeeping, slot.mailHousekeeping);
      void old.release().catch((e: unknown) => log.warn("stopping a replaced project's background work failed", { project: config.id, error: messageOf(e) }));
      return { generatedKeys: loaded.generatedKeys };
    },
    remove(id) {
      const slot = slots.get(id);
      if (!slot) return;
      slots.delete(id);
      clearMailTimer(slot);
      if (slot.open) closeRuntime(id, slot, slot.open, "removed");
      else log.info(REMOVED_CLOSED_MSG, { project: id });
    },
    sweep,
    housekeepClosed,
    stats: () => ({ configured: slots.size, open: lru.size, closing: closing.size, opens, closes }),
    async close() {
      closed = true;
      clearInterval(sweeper);
      clearInterval(closedHousekeeper);
      for (const slot of slots.values()) clearMailTimer(slot);
      const open = [...lru.entries()];
      lru.clear();
      for (const [id] of open) {
        const slot = slots.get(id);
        if (slot) slot.open = null;
      }
      await Promise.all(open.map(([, { runtime }]) => unwatchCheckpoints(runtime.db)));
      // All at once: each may wait up to 10 s for an in-flight mail send, and that wait must be
      // paid once per shutdown, not once per project. One failing close leaves the others closing.
      const results = await Promise.allSettled(open.map(([, { runtime }]) => runtime.close()));
      results.forEach((r, i) => {
        if (r.status === "rejected") log.error("project failed to close", { project: open[i][0], reason: String(r.reason) });
      });
      await Promise.all([...closing]);
      slots.clear();
    },
  };
  return pool;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
