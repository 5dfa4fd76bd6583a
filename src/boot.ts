import type { ProjectConfig } from "./config/types.ts";
import type { PluginRegistry } from "../plugins/index.ts";
import { createApp, type LatchkeyApp } from "./app.ts";
import type { AppContext } from "./http/context.ts";
import { NO_TRUSTED_PROXIES, resolveClientIp, type TrustedProxies } from "./http/client-ip.ts";
import { createDummyHashCache, createHashLimiter, DEFAULT_HASH_MAX_QUEUE, defaultHashConcurrency } from "./crypto/hash-service.ts";
import { defaultRandomBytes, type RandomBytes } from "./crypto/random.ts";
import type { Logger } from "./log.ts";
import { createProjectHashes, hasherConfigKey, readPlanCache, writePlanCache, type ServerDeps } from "./projects/runtime.ts";
import { startMailSenders } from "./mail/start.ts";
import type { SenderOptions } from "./mail/sender.ts";
import { startHousekeeping } from "./projects/housekeeping.ts";
import { reloadProjects, type ProjectSet, type ReloadReport } from "./projects/reload.ts";
import { createProjectPool, type ProjectPool } from "./projects/pool.ts";
import { defaultMaxOpenProjects, readOpenFilesLimit } from "./host/fd-limit.ts";
import { createInflightTracker } from "./http/inflight.ts";
import { sqliteOpsOf } from "./storage/sqlite/store.ts";
import type { ServerMetrics } from "./metrics/server-metrics.ts";
import { createBackoff, type Backoff, type BackoffPolicy } from "./projects/backoff.ts";
import { DbOpenError, storageFailure } from "./storage/sqlite/open.ts";
import { isStorageError } from "./storage/sqlite/storage-cause.ts";
import { join } from "node:path";
import type { SQL } from "bun";
import { createPgProjectPool, type PgProjectPool } from "./projects/pg-pool.ts";
import { isPgUnavailable } from "./storage/postgres/unavailable.ts";

/** A project that failed for a transient reason (disk full, read-only, locked) is loaded again: 1 s doubling to 1 min. */
export const PROJECT_LOAD_RETRY: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };

export interface BootOptions {
  readonly configs: readonly ProjectConfig[];
  readonly dataDir: string;
  readonly publicUrl: string;
  readonly serverKey: Uint8Array;
  readonly registry: PluginRegistry;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: RandomBytes;
  readonly trustedProxies?: TrustedProxies;
  /** Socket peer of a request; the default asks Bun's server. Tests inject their own. */
  readonly peerIp?: (request: Request) => string | null;
  readonly hashConcurrency?: number;
  /** Waiting places of the hash queue (default DEFAULT_HASH_MAX_QUEUE); tests shrink it to reach 503. */
  readonly hashQueueLimit?: number;
  /** Start the background tasks: mail senders and housekeeping (off in tests that drive them by hand). */
  readonly startMail?: boolean;
  /** Wraps every password hasher (tests count hash work through it); see ServerDeps. */
  readonly instrumentHasher?: ServerDeps["instrumentHasher"];
  /** `serve --metrics`: the metrics and the token GET /metrics needs (null: none). */
  readonly metrics?: { readonly metrics: ServerMetrics; readonly token: string | null };
  /** `serve --max-open-projects` (default: `defaultMaxOpenProjects` of the open-files limit). */
  readonly maxOpenProjects?: number;
  /** An open project with no request for this long is closed (default 10 minutes). */
  readonly idleCloseMs?: number;
  /**
   * Keys generated after the initial load (a project whose keys are made at its first open), to
   * print once like the ones of the boot (`generatedKeys`).
   */
  readonly onGeneratedKeys?: (id: string, keys: { admin?: string; public?: string }) => void;
  /** Options of the background mail senders (tests compress the retry schedule). */
  readonly senderOptions?: SenderOptions;
  /** Backoff between attempts to load a project that failed for a transient reason. */
  readonly loadRetry?: BackoffPolicy;
  /** Called when a project loads on a later attempt (after a transient failure), e.g. to print its new keys. */
  readonly onLateLoad?: (id: string, generatedKeys: { admin?: string; public?: string }) => void;
  /**
   * `--database postgres://...` (SPEC 15): the server's one connection pool; every project lives in
   * its schema of that database. Projects then load asynchronously: call `loadPending()`.
   */
  readonly postgres?: SQL;
  /** PostgreSQL: how often the server checks that its database answers (/readyz; default 1 s). */
  readonly databaseCheckEveryMs?: number;
}

export interface ProjectFailure {
  readonly id: string;
  readonly file: string;
  readonly message: string;
}

export interface Booted {
  readonly app: LatchkeyApp;
  readonly ctx: AppContext;
  readonly deps: ServerDeps;
  /**
   * Every project that loaded. `get` opens a closed project (as a request would); `openRuntime`
   * and `openRuntimes` look without opening.
   */
  readonly projects: ProjectPool;
  readonly failures: ProjectFailure[];
  /** Keys generated at this boot, per project, to print once. */
  readonly generatedKeys: Map<string, { admin?: string; public?: string }>;
  /**
   * Checks the projects not checked yet (open, apply the schema plan, reconcile keys, close), one
   * at a time, yielding to the event loop between them so /healthz answers while a large fleet is
   * checked, and makes the dummy hash of each hasher configuration. A request for a project not
   * checked yet opens it at once. /readyz answers 503 until this is done.
   */
  loadPending(): Promise<void>;
  /**
   * Applies a validated set of project files (SPEC §14 reload): new projects load, removed ones
   * answer 404, changed ones are swapped in or keep their previous configuration. Reloads run one
   * at a time, after the initial load.
   */
  reload(configs: readonly ProjectConfig[]): Promise<ReloadReport>;
  /**
   * Replaces the public URL (links, `iss`) before the projects load: with `--port 0` the real
   * port is known only once the server listens.
   */
  setPublicUrl(url: string): void;
  close(): Promise<void>;
}

/**
 * Builds deps and the app, and checks every project (a failing project is reported, the others
 * still serve). With `deferLoading`, projects are checked later by `loadPending()`. Databases are
 * not kept open: a project opens on its first request (see projects/pool.ts).
 */
export function boot(opts: BootOptions & { readonly deferLoading?: boolean }): Booted {
  let publicUrl = opts.publicUrl;
  const deps: ServerDeps = {
    now: opts.now ?? Date.now,
    random: opts.random ?? defaultRandomBytes,
    log: opts.log,
    serverKey: opts.serverKey,
    get publicUrl(): string {
      return publicUrl;
    },
    dataDir: opts.dataDir,
    hashLimiter: createHashLimiter({
      concurrency: opts.hashConcurrency ?? defaultHashConcurrency(),
      maxQueue: opts.hashQueueLimit ?? DEFAULT_HASH_MAX_QUEUE,
      onWaitSeconds: opts.metrics ? (s) => opts.metrics?.metrics.recordHashWait(s) : undefined,
    }),
    registry: opts.registry,
    dummyHashes: createDummyHashCache(),
    ...(opts.instrumentHasher ? { instrumentHasher: opts.instrumentHasher } : {}),
  };
  const failures: ProjectFailure[] = [];
  const failedProjects = new Map<string, string>();
  const pending = new Map<string, ProjectConfig>();
  const generatedKeys = new Map<string, { admin?: string; public?: string }>();
  let closed = false;
  let checkedAll = false;
  const inflight = createInflightTracker();
  const verifiedMail = new Set<string>();
  const startBackground: Parameters<typeof createProjectPool>[0]["startBackground"] =
    opts.startMail === false
      ? null
      : (runtime, housekeeping, mail) => {
          startMailSenders([runtime], { ...opts.senderOptions, housekeeping: mail }, verifiedMail);
          startHousekeeping(runtime, { state: housekeeping });
        };
  const pgPool: PgProjectPool | null = opts.postgres
    ? createPgProjectPool({
        deps,
        sql: opts.postgres,
        inflight,
        startBackground,
        onGeneratedKeys: (id, keys) => {
          generatedKeys.set(id, keys);
          if (checkedAll) opts.onGeneratedKeys?.(id, keys);
        },
      })
    : null;
  const projects: ProjectPool = pgPool ?? createProjectPool({
    deps,
    maxOpen: opts.maxOpenProjects ?? defaultMaxOpenProjects(readOpenFilesLimit()),
    idleCloseMs: opts.idleCloseMs,
    inflight,
    startBackground,
    onFailed: (config, error) => recordFailure(config, error),
    onGeneratedKeys: (id, keys) => {
      generatedKeys.set(id, keys);
      if (checkedAll) opts.onGeneratedKeys?.(id, keys);
    },
  });
  const set: ProjectSet = { projects, failedProjects, closedCount: 0 };
  const listsCorsOrigins = (configs: Iterable<ProjectConfig>): boolean => [...configs].some((c) => !c.cors.allowedOrigins.includes("*"));
  let corsOriginLists = listsCorsOrigins(opts.configs);

  for (const config of opts.configs) {
    projects.add(config, { check: false });
    pending.set(config.id, config);
  }
  // On PostgreSQL nothing of a project is written to the data dir (no plan cache either).
  const plans = pgPool ? new Map() : readPlanCache(opts.dataDir);
  const savePlans = (): void => {
    if (pgPool) return;
    for (const id of [...plans.keys()]) if (!projects.has(id)) plans.delete(id);
    writePlanCache(opts.dataDir, plans, opts.log);
  };
  const retries = new Map<string, { backoff: Backoff; timer: ReturnType<typeof setTimeout> | null }>();
  /**
   * A project that failed for a transient reason (a full disk, a read-only mount, missing
   * permissions, a lock held elsewhere: not the project's fault) is added again and checked later,
   * with backoff; anything else stays down.
   */
  const retryLater = (config: ProjectConfig, error: unknown, message: string): boolean => {
    if (!((error instanceof DbOpenError && error.transient) || isPgUnavailable(error)) || closed) return false;
    const retry = retries.get(config.id) ?? { backoff: createBackoff(opts.loadRetry ?? PROJECT_LOAD_RETRY), timer: null };
    retries.set(config.id, retry);
    if (retry.timer !== null) return true; // already scheduled (a request met the same failure)
    const retryInMs = retry.backoff.fail();
    opts.log.error("project failed to load; will retry", { project: config.id, file: config.filePath, reason: message, attempt: retry.backoff.failures, retry_in_ms: retryInMs });
    retry.timer = setTimeout(() => {
      retry.timer = null;
      if (closed || projects.has(config.id) || !failedProjects.has(config.id)) return;
      if (pgPool) {
        void checkOnePg(pgPool, config, true);
        return;
      }
      checkOne(config, true);
      if (!failedProjects.has(config.id)) savePlans();
    }, retryInMs);
    retry.timer.unref?.();
    return true;
  };
  function recordFailure(config: ProjectConfig, error: unknown): void {
    pending.delete(config.id);
    const cause = !(error instanceof DbOpenError) && isStorageError(error) ? storageFailure(join(opts.dataDir, `${config.id}.db`), error) : error;
    const message = cause instanceof Error ? cause.message : String(cause);
    const at = failures.findIndex((f) => f.id === config.id);
    const failure = { id: config.id, file: config.filePath, message };
    if (at === -1) failures.push(failure);
    else failures[at] = failure;
    failedProjects.set(config.id, message);
    if (!retryLater(config, cause, message)) {
      opts.log.error("project failed to load", { project: config.id, file: config.filePath, reason: message });
    }
  }
  /** A project checked (and so loadable): forget an earlier failure; hand on keys generated now. */
  const loaded = (config: ProjectConfig, lateKeys: { admin?: string; public?: string }): void => {
    if (failedProjects.has(config.id)) {
      failures.splice(failures.findIndex((f) => f.id === config.id), 1);
      failedProjects.delete(config.id);
      retries.delete(config.id);
      opts.log.info("project loaded after an earlier failure", { project: config.id });
    }
    if (lateKeys.admin || lateKeys.public) {
      if (opts.onLateLoad) opts.onLateLoad(config.id, lateKeys);
      else generatedKeys.set(config.id, lateKeys);
    }
  };
  const checkOne = (config: ProjectConfig, again = false): void => {
    pending.delete(config.id);
    // A retry adds the project again (a failed check removed it from the pool).
    if (again) projects.add(config, { check: false });
    let lateKeys: { admin?: string; public?: string } = {};
    try {
      projects.check(config.id, again ? (keys) => (lateKeys = keys) : undefined, plans);
    } catch (e) {
      recordFailure(config, e);
      return;
    }
    loaded(config, lateKeys);
  };
  /** checkOne on PostgreSQL: the load is asynchronous (a network round trip or several). */
  const checkOnePg = async (pool: PgProjectPool, config: ProjectConfig, again = false): Promise<void> => {
    pending.delete(config.id);
    if (again) await pool.add(config, { check: false });
    let lateKeys: { admin?: string; public?: string } = {};
    try {
      await pool.check(config.id, again ? (keys) => (lateKeys = keys) : undefined);
    } catch (e) {
      recordFailure(config, e);
      return;
    }
    loaded(config, lateKeys);
  };
  /** PostgreSQL: whether the database answered the last check (/readyz says 503 while it does not). */
  let databaseReachable = true;
  let databaseCheck: ReturnType<typeof setInterval> | null = null;
  if (opts.postgres) {
    const sql = opts.postgres;
    let checking = false;
    databaseCheck = setInterval(() => {
      if (checking) return;
      checking = true;
      sql`SELECT 1 AS ok`
        .then(() => {
          if (!databaseReachable) opts.log.info("database reachable again");
          databaseReachable = true;
        })
        .catch((e: unknown) => {
          if (databaseReachable) opts.log.error("database unreachable; requests that need it answer 503", { error: e instanceof Error ? e.message : String(e) });
          databaseReachable = false;
        })
        .finally(() => (checking = false));
    }, opts.databaseCheckEveryMs ?? 1_000);
    databaseCheck.unref?.();
  }
  if (!opts.deferLoading && !pgPool) {
    for (const config of opts.configs) checkOne(config);
    checkedAll = true;
    savePlans();
  }

  /** One dummy hash per distinct hasher configuration (SPEC 9.4), not one per project. */
  // `serve` (deferred loading) makes them before /readyz; an in-process boot leaves them to first use.
  let dummiesReady = !opts.deferLoading;
  const prepareDummies = async (): Promise<void> => {
    const seen = new Set<string>();
    for (const id of [...projects.keys()]) {
      const config = projects.configOf(id);
      if (!config || config.authTableName === null) continue;
      const key = hasherConfigKey(config);
      if (seen.has(key)) continue;
      seen.add(key);
      await prepareDummyFor(id);
    }
    dummiesReady = true;
  };
  /** Makes the dummy hash of a project's hasher configuration without opening its database. */
  const prepareDummyFor = async (id: string): Promise<void> => {
    const config = projects.configOf(id);
    if (!config) return;
    await createProjectHashes(config, deps).prepareDummy().catch(() => undefined); // a busy queue: made on first use instead
  };

  const trusted = opts.trustedProxies ?? NO_TRUSTED_PROXIES;
  const ctx: AppContext = {
    deps,
    projects,
    get corsOriginLists() {
      return corsOriginLists;
    },
    isReady: () => checkedAll && pending.size === 0 && failedProjects.size === 0 && dummiesReady && databaseReachable,
    failedProjects,
    loadingProjects: pending,
    inflight,
    metrics: opts.metrics,
    clientIp(request, server) {
      const peer = (opts.peerIp ? opts.peerIp(request) : server?.requestIP(request)?.address) ?? "unknown";
      return resolveClientIp(peer, request.headers.get("x-forwarded-for"), trusted);
    },
  };
  const app = createApp(ctx);
  let initialLoad: Promise<void> = Promise.resolve();
  let reloads: Promise<unknown> = Promise.resolve();
  opts.metrics?.metrics.setSources({
    hashQueueDepth: () => deps.hashLimiter.stats().queued,
    projectStates: () => {
      const open = projects.stats().open;
      return { loaded: projects.size, open, closed: projects.size - open, failed: failedProjects.size, removed: set.closedCount };
    },
    // Open projects only: a scrape never opens a database.
    outbox: () => projects.openRuntimes().flatMap((p) => {
      try {
        return [{ project: p.id, ...sqliteOpsOf(p.store).outbox.counts() }];
      } catch {
        return []; // a busy or closing database: this scrape goes without it
      }
    }),
  });
  return {
    app,
    ctx,
    deps,
    projects,
    failures,
    generatedKeys,
    loadPending() {
      initialLoad = (async () => {
        let sinceYield = performance.now();
        for (const config of opts.configs) {
          if (closed) return;
          if (!pending.has(config.id)) continue;
          if (pgPool) await checkOnePg(pgPool, config);
          else checkOne(config);
          // Yield every few milliseconds (not after each project): /healthz and requests stay
          // responsive without paying an event-loop turn per project.
          if (performance.now() - sinceYield > 5) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            sinceYield = performance.now();
          }
        }
        checkedAll = true;
        savePlans();
        await prepareDummies();
      })();
      return initialLoad;
    },
    reload(configs) {
      const run = reloads.then(async () => {
        await initialLoad;
        const report = await reloadProjects(set, configs, { deps });
        corsOriginLists = listsCorsOrigins([...projects.keys()].map((id) => projects.configOf(id)!));
        void prepareDummies();
        return report;
      });
      reloads = run.catch(() => undefined);
      return run;
    },
    setPublicUrl(url: string): void {
      publicUrl = url;
    },
    async close() {
      closed = true;
      if (databaseCheck !== null) clearInterval(databaseCheck);
      for (const r of retries.values()) if (r.timer !== null) clearTimeout(r.timer);
      await reloads;
      await projects.close();
    },
  };
}
