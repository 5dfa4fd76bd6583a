import { availableParallelism } from "node:os";
import type { ProjectConfig } from "./config/types.ts";
import type { PluginRegistry } from "../plugins/index.ts";
import { createApp, type LatchkeyApp } from "./app.ts";
import type { AppContext } from "./http/context.ts";
import { NO_TRUSTED_PROXIES, resolveClientIp, type TrustedProxies } from "./http/client-ip.ts";
import { createHashLimiter } from "./crypto/hash-service.ts";
import { defaultRandomBytes, type RandomBytes } from "./crypto/random.ts";
import type { Logger } from "./log.ts";
import { loadProjectRuntime, type ProjectRuntime, type ServerDeps } from "./projects/runtime.ts";
import { startMailSenders } from "./mail/start.ts";
import { startHousekeeping } from "./projects/housekeeping.ts";
import { reloadProjects, type ProjectSet, type ReloadReport } from "./projects/reload.ts";
import { createInflightTracker } from "./http/inflight.ts";
import { outboxRepo } from "./mail/outbox.ts";
import type { ServerMetrics } from "./metrics/server-metrics.ts";
import { createBackoff, type Backoff, type BackoffPolicy } from "./projects/backoff.ts";
import { DbOpenError, storageFailure } from "./db/open.ts";
import { isStorageError } from "./db/storage-cause.ts";
import { join } from "node:path";

/** A project that failed for a transient reason (disk full, read-only, locked) is loaded again: 1 s doubling to 1 min. */
export const PROJECT_LOAD_RETRY: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };

/** Waiting room for password hashing beyond one hash per core (SPEC 9.5). */
export const HASH_QUEUE_LIMIT = 256;

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
  /** Waiting places of the hash queue (default HASH_QUEUE_LIMIT); tests shrink it to reach 503. */
  readonly hashQueueLimit?: number;
  /** Start the background tasks: mail senders and housekeeping (off in tests that drive them by hand). */
  readonly startMail?: boolean;
  /** Wraps every password hasher (tests count hash work through it); see ServerDeps. */
  readonly instrumentHasher?: ServerDeps["instrumentHasher"];
  /** `serve --metrics`: the metrics and the token GET /metrics needs (null: none). */
  readonly metrics?: { readonly metrics: ServerMetrics; readonly token: string | null };
  /** Backoff between attempts to load a project that failed for a transient reason. */
  readonly loadRetry?: BackoffPolicy;
  /** Called when a project loads on a later attempt (after a transient failure), e.g. to print its new keys. */
  readonly onLateLoad?: (id: string, generatedKeys: { admin?: string; public?: string }) => void;
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
  readonly projects: Map<string, ProjectRuntime>;
  readonly failures: ProjectFailure[];
  /** Keys generated at this boot, per project, to print once. */
  readonly generatedKeys: Map<string, { admin?: string; public?: string }>;
  /**
   * Loads the projects not loaded yet, one at a time, yielding to the event loop between them so
   * /healthz answers while a large fleet loads. Until a project is loaded its routes answer 503
   * and /readyz answers 503.
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
 * Builds deps and the app, and loads every project (a failing project is reported, the others
 * still serve). With `deferLoading`, projects are loaded later by `loadPending()`.
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
      concurrency: opts.hashConcurrency ?? availableParallelism(),
      maxQueue: opts.hashQueueLimit ?? HASH_QUEUE_LIMIT,
      onWaitSeconds: opts.metrics ? (s) => opts.metrics?.metrics.recordHashWait(s) : undefined,
    }),
    registry: opts.registry,
    ...(opts.instrumentHasher ? { instrumentHasher: opts.instrumentHasher } : {}),
  };
  const projects = new Map<string, ProjectRuntime>();
  const failures: ProjectFailure[] = [];
  const failedProjects = new Map<string, string>();
  const pending = new Map(opts.configs.map((c) => [c.id, c]));
  const generatedKeys = new Map<string, { admin?: string; public?: string }>();
  let closed = false;
  const set: ProjectSet = { projects, failedProjects, closedCount: 0 };
  const inflight = createInflightTracker();
  const startBackground = (runtime: ProjectRuntime): void => {
    if (opts.startMail === false) return;
    startMailSenders([runtime]);
    startHousekeeping(runtime);
  };
  const listsCorsOrigins = (configs: Iterable<ProjectConfig>): boolean => [...configs].some((c) => !c.cors.allowedOrigins.includes("*"));
  let corsOriginLists = listsCorsOrigins(opts.configs);

  const retries = new Map<string, { backoff: Backoff; timer: ReturnType<typeof setTimeout> | null }>();

  const recordFailure = (config: ProjectConfig, message: string): void => {
    const at = failures.findIndex((f) => f.id === config.id);
    const failure = { id: config.id, file: config.filePath, message };
    if (at === -1) failures.push(failure);
    else failures[at] = failure;
    failedProjects.set(config.id, message);
  };

  const loadOne = (config: ProjectConfig): void => {
    pending.delete(config.id);
    try {
      const loaded = loadProjectRuntime(config, deps);
      projects.set(config.id, loaded.runtime);
      const late = failedProjects.has(config.id);
      if (late) {
        failures.splice(failures.findIndex((f) => f.id === config.id), 1);
        failedProjects.delete(config.id);
        retries.delete(config.id);
        opts.log.info("project loaded after an earlier failure", { project: config.id });
      }
      if (loaded.generatedKeys.admin || loaded.generatedKeys.public) {
        if (late && opts.onLateLoad) opts.onLateLoad(config.id, loaded.generatedKeys);
        else generatedKeys.set(config.id, loaded.generatedKeys);
      }
      startBackground(loaded.runtime);
    } catch (e) {
      // A full disk, a read-only mount, missing permissions or a lock held elsewhere is not the
      // project's fault: name the cause and try again later. Anything else stays down.
      const error = !(e instanceof DbOpenError) && isStorageError(e) ? storageFailure(join(opts.dataDir, `${config.id}.db`), e) : e;
      const message = error instanceof Error ? error.message : String(error);
      recordFailure(config, message);
      if (!(error instanceof DbOpenError && error.transient) || closed) {
        opts.log.error("project failed to load", { project: config.id, file: config.filePath, reason: message });
        return;
      }
      const retry = retries.get(config.id) ?? { backoff: createBackoff(opts.loadRetry ?? PROJECT_LOAD_RETRY), timer: null };
      retries.set(config.id, retry);
      const retryInMs = retry.backoff.fail();
      opts.log.error("project failed to load; will retry", { project: config.id, file: config.filePath, reason: message, attempt: retry.backoff.failures, retry_in_ms: retryInMs });
      retry.timer = setTimeout(() => {
        retry.timer = null;
        if (!closed) loadOne(config);
      }, retryInMs);
      retry.timer.unref?.();
    }
  };
  if (!opts.deferLoading) for (const config of opts.configs) loadOne(config);

  const trusted = opts.trustedProxies ?? NO_TRUSTED_PROXIES;
  const ctx: AppContext = {
    deps,
    projects,
    get corsOriginLists() {
      return corsOriginLists;
    },
    isReady: () => pending.size === 0 && failedProjects.size === 0,
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
    projectStates: () => ({ loaded: projects.size, failed: failedProjects.size, closed: set.closedCount }),
    outbox: () => [...projects.values()].flatMap((p) => {
      try {
        return [{ project: p.id, ...outboxRepo.countPendingAndFailed(p) }];
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
        for (const config of [...pending.values()]) {
          if (closed) return;
          loadOne(config);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })();
      return initialLoad;
    },
    reload(configs) {
      const run = reloads.then(async () => {
        await initialLoad;
        const report = await reloadProjects(set, configs, { deps, startBackground, inflight });
        corsOriginLists = listsCorsOrigins([...projects.values()].map((p) => p.config));
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
      for (const r of retries.values()) if (r.timer !== null) clearTimeout(r.timer);
      await reloads;
      // All at once: each may wait up to 10 s for an in-flight mail send, and that wait must be
      // paid once per shutdown, not once per project. One failing close leaves the others closing.
      const all = [...projects.values()];
      const results = await Promise.allSettled(all.map((p) => p.close()));
      results.forEach((r, i) => {
        if (r.status === "rejected") opts.log.error("project failed to close", { project: all[i].id, reason: String(r.reason) });
      });
      projects.clear();
    },
  };
}
