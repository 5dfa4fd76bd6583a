/**
 * `latchkey serve`: loads plugins and project files, takes the data directory, opens the port
 * (so /healthz answers at once), then loads the projects; SIGHUP (or, with --watch, a changed
 * file) reloads them; SIGTERM / SIGINT stop gracefully.
 */
import { loadProjects, formatConfigIssue } from "../config/load.ts";
import type { PluginRegistry } from "../../plugins/index.ts";
import { createLogger, type Logger } from "../log.ts";
import { loadServerKey, ServerKeyError } from "../server-key.ts";
import { defaultRandomBytes } from "../crypto/random.ts";
import { parseTrustedProxies } from "../http/client-ip.ts";
import { boot } from "../boot.ts";
import { lastResortResponse } from "../app.ts";
import { createServerMetrics } from "../metrics/server-metrics.ts";
import { createReloader } from "../projects/reloader.ts";
import { watchProjectFiles } from "../projects/watch-files.ts";
import { DataDirBusyError, lockDataDir, makeFilesPrivate, prepareDataDir } from "../host/data-dir.ts";
import { ensureFileLimit } from "../host/fd-limit.ts";
import { hostForUrl, type ServeOptions } from "./args.ts";
import { EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME } from "./exit-codes.ts";
import { loadRegistryOrReport } from "./plugins.ts";
import { connectPostgres } from "../storage/postgres/connect.ts";

/** How long a stop waits for requests in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

type Env = Record<string, string | undefined>;

function loadConfigsOrReport(paths: readonly string[], env: Env, registry: PluginRegistry) {
  const { projects, issues } = loadProjects(paths, { env, registry });
  if (issues.length > 0) {
    for (const i of issues) process.stderr.write(`config error: ${formatConfigIssue(i)}\n`);
    process.stderr.write(`${issues.length} configuration error(s); nothing was started.\n`);
    return null;
  }
  if (projects.length === 0) {
    process.stderr.write(`config error: no project files found in ${paths.join(", ")}\n`);
    return null;
  }
  return projects;
}

function printGeneratedKeys(id: string, k: { admin?: string; public?: string }): void {
  const parts = [k.admin ? `admin key ${k.admin}` : "", k.public ? `public key ${k.public}` : ""].filter(Boolean);
  process.stdout.write(`project ${id}: ${parts.join(" ")} (shown once)\n`);
}

export async function runServe(options: ServeOptions, env: Env): Promise<number> {
  const trusted = parseTrustedProxies(options.trustedProxies);
  if (typeof trusted === "string") {
    process.stderr.write(`latchkey: ${trusted}\n`);
    return EXIT_CONFIG;
  }
  const metrics = options.metrics ? createServerMetrics() : undefined;
  const log = createLogger({ level: options.logLevel, observe: metrics ? (level, msg, fields) => metrics.observeLog(level, msg, fields) : undefined });
  const registry = await loadRegistryOrReport(options.pluginDirs, (kind, id, file) => log.info("plugin loaded", { kind, id, file }));
  if (!registry) return EXIT_CONFIG;
  const configs = loadConfigsOrReport(options.configPaths, env, registry);
  if (!configs) return EXIT_CONFIG;
  const database = options.database;
  // On PostgreSQL (SPEC 15) nothing of a project is written to the data dir, and replicas may share
  // one: it is neither prepared nor locked, and the server key comes from LATCHKEY_SERVER_KEY.
  const host = database.engine === "postgres" ? (makeFilesPrivate(), { maxOpen: configs.length }) : prepareHost(options.dataDir, configs.length, options.maxOpenProjects, log);
  if ("exit" in host) return host.exit;
  let serverKey: Uint8Array;
  try {
    serverKey = loadServerKey({ dataDir: options.dataDir, envValue: env.LATCHKEY_SERVER_KEY, random: defaultRandomBytes, create: true });
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return e instanceof ServerKeyError ? EXIT_CONFIG : EXIT_RUNTIME;
  }
  const postgres = database.engine === "postgres" ? connectPostgres(database) : undefined;
  if (database.engine === "postgres") log.info("projects are served from PostgreSQL", { database: database.display });
  let server: ReturnType<typeof Bun.serve> | undefined;
  const booted = boot({
    postgres,
    configs,
    dataDir: options.dataDir,
    publicUrl: options.publicUrl,
    serverKey,
    registry,
    log,
    trustedProxies: trusted,
    peerIp: (request) => server?.requestIP(request)?.address ?? null,
    // The port opens first so /healthz answers while the databases load; /readyz and each
    // project's routes answer 503 until it is loaded (a fleet of projects loads in the background).
    deferLoading: true,
    maxOpenProjects: host.maxOpen,
    onGeneratedKeys: printGeneratedKeys,
    metrics: metrics ? { metrics, token: env.LATCHKEY_METRICS_TOKEN || null } : undefined,
    onLateLoad: (id, keys) => printGeneratedKeys(id, keys),
  });
  try {
    // app.listen hands every route to Bun's native router (no JS routing per request); anything
    // unmatched falls through to the app's fetch, which answers 404/405 in the envelope.
    booted.app.listen({
      hostname: options.host,
      port: options.port,
      // No limit of Bun's own: its 413 has no envelope or request id. The app refuses a declared
      // length over 64 KiB before reading and counts a chunked body as it reads; a body nobody
      // reads is discarded by Bun as it arrives, never buffered.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      // Never share the port with another process (Elysia's default is true).
      reusePort: false,
      development: false,
      // Only reached if something escapes the app's own error handler: still the envelope.
      error: (e: unknown) => lastResortResponse(log, e),
    });
    server = booted.app.server ?? undefined;
    if (!server) throw new Error("the server did not start");
  } catch (e) {
    process.stderr.write(`latchkey: cannot listen on ${options.host}:${options.port}: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  const listening = server;
  const hostInUrl = hostForUrl(options.host);
  // With `--port 0` the default public URL names the port the system picked (links and `iss`).
  if (options.publicUrlDerived && options.port === 0) booted.setPublicUrl(`http://${hostInUrl}:${listening.port}`);

  const reloader = createReloader({
    load: () => loadProjects(options.configPaths, { env, registry }),
    apply: (configs) => booted.reload(configs),
    log,
    metrics,
    onGeneratedKeys: printGeneratedKeys,
  });
  // Registered before the projects load: SIGHUP's default action would end the process (exit 129).
  process.on("SIGHUP", () => void reloader.request("SIGHUP"));
  const stopWatching = options.watch
    ? watchProjectFiles(options.configPaths, (file) => void reloader.request(`file changed: ${file}`))
    : () => undefined;

  let stopping = false;
  const stopped = new Promise<number>((resolve) => {
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      log.info("shutting down", { signal });
      const timer = setTimeout(() => void listening.stop(true), SHUTDOWN_GRACE_MS);
      await listening.stop(false);
      clearTimeout(timer);
      await booted.close();
      await postgres?.close({ timeout: 5 }).catch(() => undefined);
      log.info("stopped");
      resolve(EXIT_OK);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });

  await booted.loadPending();
  if (stopping) return stopped;
  for (const f of booted.failures) process.stderr.write(`project ${f.id} (${f.file}) did not load: ${f.message}\n`);
  for (const [id, k] of booted.generatedKeys) printGeneratedKeys(id, k);
  // Printed once every project has loaded (or failed), so "listening" also means "ready to serve".
  log.announce(`listening on http://${hostInUrl}:${listening.port}`, {
    projects: [...booted.projects.keys()],
    failed: booted.failures.map((f) => f.id),
    watch: options.watch,
    metrics: options.metrics,
  });
  return stopped;
}

/**
 * Process-level guards before anything is opened: private file modes, the data directory (made
 * 0700; a warning if others can read it), its exclusive lock, and the open-file limit (sized for
 * the projects open at once, see `ensureFileLimit`). Returns the exit code to stop with, or the
 * open-projects limit to serve with.
 */
function prepareHost(dataDir: string, projectCount: number, maxOpenProjects: number | null, log: Logger): { exit: number } | { maxOpen: number } {
  makeFilesPrivate();
  try {
    const dir = prepareDataDir(dataDir);
    if (dir.warning) log.warn(dir.warning);
    if (!lockDataDir(dataDir)) log.warn("cannot lock the data directory on this system; make sure only one server uses it", { data_dir: dataDir });
  } catch (e) {
    const message = e instanceof DataDirBusyError ? e.message : `cannot use data directory ${dataDir}: ${(e as Error).message}`;
    process.stderr.write(`latchkey: ${message}\n`);
    return { exit: EXIT_RUNTIME };
  }
  const files = ensureFileLimit(projectCount, maxOpenProjects);
  if (files.error !== null) {
    process.stderr.write(`latchkey: ${files.error}\n`);
    return { exit: EXIT_RUNTIME };
  }
  return { maxOpen: files.maxOpen };
}
