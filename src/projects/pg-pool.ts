/**
 * The projects of a server on PostgreSQL (SPEC 15). Every project lives in the one database the
 * server's connection pool reaches, so there is no file to open or close: a project is loaded
 * once (schema applied, keys reconciled, snapshot read) and stays loaded, and the SQLite pool's
 * open/idle/LRU logic does not apply. Same interface as src/projects/pool.ts, with the loads
 * asynchronous (check, add with check, replace).
 */
import type { SQL } from "bun";
import type { ProjectConfig } from "../config/types.ts";
import type { InflightTracker } from "../http/inflight.ts";
import type { HousekeepingState } from "./housekeeping.ts";
import { ProjectOpenError, type PoolStats, type ProjectPool } from "./pool.ts";
import { loadPgProjectRuntime, type PgProjectRuntime } from "./pg-runtime.ts";
import { checkProjectPlugins, type ProjectRuntime, type ServerDeps } from "./runtime.ts";

/** How long a replaced or removed runtime waits for the requests that began before. */
const RELEASE_DRAIN_MS = 60_000;

export interface PgPoolOptions {
  readonly deps: ServerDeps;
  readonly sql: SQL;
  readonly inflight?: InflightTracker;
  readonly startBackground: ((runtime: ProjectRuntime, housekeeping: HousekeepingState, mail: { lastHousekeepingMs: number }) => void) | null;
  onGeneratedKeys(id: string, keys: { admin?: string; public?: string }): void;
}

interface PgSlot {
  config: ProjectConfig;
  runtime: PgProjectRuntime | null;
  housekeeping: HousekeepingState;
  mail: { lastHousekeepingMs: number };
}

export interface PgProjectPool extends ProjectPool {
  check(id: string, onGeneratedKeys?: (keys: { admin?: string; public?: string }) => void): Promise<void>;
  add(config: ProjectConfig, opts: { check: boolean; onGeneratedKeys?: (keys: { admin?: string; public?: string }) => void }): Promise<void>;
  replace(config: ProjectConfig): Promise<{ generatedKeys: { admin?: string; public?: string } }>;
}

export function createPgProjectPool(opts: PgPoolOptions): PgProjectPool {
  const { deps } = opts;
  const slots = new Map<string, PgSlot>();
  let opens = 0;
  let closes = 0;
  let closed = false;
  const releasing = new Set<Promise<void>>();

  const release = (runtime: ProjectRuntime): void => {
    closes++;
    const done = (async () => {
      if (opts.inflight) await opts.inflight.drained(RELEASE_DRAIN_MS);
      await runtime.release().catch((e: unknown) => deps.log.warn("stopping a project's background work failed", { project: runtime.id, error: String(e) }));
    })();
    releasing.add(done);
    void done.finally(() => releasing.delete(done));
  };

  const start = (slot: PgSlot, runtime: PgProjectRuntime): void => {
    slot.runtime = runtime;
    opens++;
    opts.startBackground?.(runtime, slot.housekeeping, slot.mail);
  };

  const pool: PgProjectPool = {
    get(id) {
      const slot = slots.get(id);
      if (!slot || closed) return undefined;
      // Added but not loaded (its load is under way or failed for a reason that is retried).
      if (!slot.runtime) throw new ProjectOpenError(`project ${id} is not loaded yet`);
      return slot.runtime;
    },
    has: (id) => slots.has(id),
    get size() {
      return slots.size;
    },
    keys: () => slots.keys(),
    values: () => [...slots.values()].flatMap((s) => (s.runtime ? [s.runtime] : [])),
    configOf: (id) => slots.get(id)?.config,
    openRuntime: (id) => slots.get(id)?.runtime ?? null,
    openRuntimes: () => [...slots.values()].flatMap((s) => (s.runtime ? [s.runtime] : [])),
    isChecked: (id) => slots.get(id)?.runtime != null,
    async add(config, { check, onGeneratedKeys }) {
      slots.set(config.id, { config, runtime: null, housekeeping: { lastRunMs: -Infinity }, mail: { lastHousekeepingMs: -Infinity } });
      if (check) await pool.check(config.id, onGeneratedKeys);
    },
    async check(id, onGeneratedKeys) {
      const slot = slots.get(id);
      if (!slot || slot.runtime) return;
      let loaded;
      try {
        checkProjectPlugins(slot.config, deps);
        loaded = await loadPgProjectRuntime(slot.config, deps, opts.sql);
      } catch (e) {
        if (slots.get(id) === slot) slots.delete(id);
        throw e;
      }
      if (closed || slots.get(id) !== slot) {
        await loaded.runtime.release();
        return;
      }
      start(slot, loaded.runtime);
      const k = loaded.generatedKeys;
      if (k.admin || k.public) (onGeneratedKeys ?? ((keys) => opts.onGeneratedKeys(id, keys)))(k);
    },
    async replace(config) {
      const slot = slots.get(config.id);
      if (!slot) throw new Error(`project ${config.id} is not loaded`);
      checkProjectPlugins(config, deps);
      const loaded = await loadPgProjectRuntime(config, deps, opts.sql);
      const old = slot.runtime;
      slot.config = config;
      start(slot, loaded.runtime);
      if (old) release(old);
      return { generatedKeys: loaded.generatedKeys };
    },
    remove(id) {
      const slot = slots.get(id);
      if (!slot) return;
      slots.delete(id);
      if (slot.runtime) release(slot.runtime);
    },
    sweep: () => undefined,
    // Every project is loaded: housekeeping runs on each runtime's own schedule.
    housekeepClosed: async () => undefined,
    stats(): PoolStats {
      const open = pool.openRuntimes().length;
      return { configured: slots.size, open, closing: releasing.size, opens, closes };
    },
    async close() {
      closed = true;
      // All at once, as the SQLite pool: each may wait for an in-flight mail send, and that wait is
      // paid once per shutdown, not once per project. One failing release leaves the others going.
      const open = [...slots.values()].flatMap((s) => (s.runtime ? [s.runtime] : []));
      const results = await Promise.allSettled(open.map((runtime) => runtime.release()));
      results.forEach((r, i) => {
        if (r.status === "rejected") deps.log.error("project failed to close", { project: open[i]!.id, reason: String(r.reason) });
      });
      await Promise.all([...releasing]);
      slots.clear();
    },
  };
  return pool;
}
