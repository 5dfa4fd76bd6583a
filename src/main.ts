#!/usr/bin/env bun
import pkg from "../package.json" with { type: "json" };
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { HELP, parseArgs, UsageError, type ServeOptions } from "./cli/args.ts";
import { loadProjects, formatConfigIssue } from "./config/load.ts";
import { BUILTIN_PLUGINS, type PluginRegistry } from "../plugins/index.ts";
import { loadPluginDirs } from "./plugin-host/load-plugin-files.ts";
import { runPluginTest } from "./plugin-host/test-plugin.ts";
import { writePluginTemplate } from "./cli/plugin-init.ts";
import { createLogger, type Logger } from "./log.ts";
import { loadServerKey, ServerKeyError } from "./server-key.ts";
import { defaultRandomBytes } from "./crypto/random.ts";
import { parseTrustedProxies } from "./http/client-ip.ts";
import { boot } from "./boot.ts";
import { lastResortResponse } from "./app.ts";
import { openProjectDb } from "./storage/sqlite/open.ts";
import { createSettingsRepo } from "./storage/sqlite/settings.ts";
import { createProjectKeys } from "./storage/sqlite/keys.ts";
import { BackupError, backupProject, restoreProject } from "./storage/sqlite/backup.ts";
import { createServerMetrics } from "./metrics/server-metrics.ts";
import { createReloader } from "./projects/reloader.ts";
import { watchProjectFiles } from "./projects/watch-files.ts";
import { DataDirBusyError, lockDataDir, makeFilesPrivate, prepareDataDir } from "./host/data-dir.ts";
import { ensureFileLimit } from "./host/fd-limit.ts";

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_CONFIG = 2;
const SHUTDOWN_GRACE_MS = 10_000;

type Env = Record<string, string | undefined>;

async function main(argv: readonly string[], env: Env): Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(argv, env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`latchkey: ${e.message}\nRun \`latchkey --help\` for usage.\n`);
      return EXIT_CONFIG;
    }
    throw e;
  }
  switch (cmd.kind) {
    case "version":
      process.stdout.write(`latchkey ${pkg.version}\n`);
      return EXIT_OK;
    case "help":
      process.stdout.write(HELP);
      return EXIT_OK;
    // Loaded on demand, so `serve` does not pay for the schema converter at start-up.
    case "check": {
      // With --json, stdout carries only the JSON document.
      const say = cmd.json ? (t: string) => process.stderr.write(t) : (t: string) => process.stdout.write(t);
      const registry = await loadRegistryOrReport(cmd.pluginDirs, (kind, id, file) => say(`plugin ${kind} "${id}" loaded from ${file}\n`));
      if (!registry) return EXIT_CONFIG;
      const { runCheck } = await import("./cli/check.ts");
      return runCheck(
        { configPaths: cmd.configPaths, dataDir: cmd.dataDir, json: cmd.json, envOptional: cmd.envOptional, env, registry },
        { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) },
      );
    }
    case "schema": {
      const { projectFileJsonSchemaText } = await import("./config/json-schema.ts");
      process.stdout.write(projectFileJsonSchemaText(BUILTIN_PLUGINS));
      return EXIT_OK;
    }
    case "init": {
      // `init DIR --plugin KIND`: a plugin template in DIR/plugins/, ready for `serve --plugins DIR/plugins`.
      if (cmd.plugin !== null) {
        mkdirSync(join(cmd.dir, "plugins"), { recursive: true, mode: 0o755 });
        return runPluginInit(cmd.plugin, join(cmd.dir, "plugins", `${cmd.plugin}.ts`));
      }
      const { runInit } = await import("./cli/init.ts");
      return runInit(cmd.dir, { force: cmd.force }, BUILTIN_PLUGINS);
    }
    case "plugin-test":
      return runPluginTest({
        target: cmd.target,
        optionsJson: cmd.options,
        otherOptionsJson: cmd.otherOptions,
        builtins: BUILTIN_PLUGINS,
        out: (t) => process.stdout.write(t),
        err: (t) => process.stderr.write(t),
      });
    case "plugin-init":
      return runPluginInit(cmd.pluginKind, cmd.file);
    case "keys-rotate":
      return runKeysRotate(cmd.projectId, cmd.which, cmd.dataDir);
    case "serve":
      return runServe(cmd.options, env);
    case "backup":
      return runBackupCommand(() => backupProject({ dataDir: cmd.dataDir, projectId: cmd.projectId, outPath: cmd.outPath, nowIso: new Date().toISOString() }), `project ${cmd.projectId} backed up to ${cmd.outPath}`);
    case "restore":
      return runBackupCommand(() => {
        const kept = restoreProject({ dataDir: cmd.dataDir, projectId: cmd.projectId, fromPath: cmd.fromPath, nowIso: new Date().toISOString() });
        return kept === null ? "" : ` (the database it replaced is kept as ${kept})`;
      }, `project ${cmd.projectId} restored from ${cmd.fromPath}`);
  }
}

/**
 * The built-ins plus every plugin file of the plugin directories, loaded before any project file
 * is read so a project can name a plugin's id. Any refusal stops the command (exit 2).
 */
async function loadRegistryOrReport(dirs: readonly string[], announce: (kind: string, id: string, file: string) => void): Promise<PluginRegistry | null> {
  if (dirs.length === 0) return BUILTIN_PLUGINS;
  const { registry, loaded, problems } = await loadPluginDirs(dirs, BUILTIN_PLUGINS);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`plugin error: ${p.file}: ${p.message}\n`);
    process.stderr.write(`${problems.length} plugin error(s); nothing was started.\n`);
    return null;
  }
  for (const l of loaded) announce(l.factory.kind === "hasher" ? "hasher" : "mail provider", l.factory.id, l.file);
  return registry;
}

function runPluginInit(kind: "mail" | "hasher", file: string): number {
  try {
    for (const written of writePluginTemplate(kind, file)) process.stdout.write(`wrote ${written}\n`);
    return EXIT_OK;
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return EXIT_CONFIG;
  }
}

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

function runKeysRotate(projectId: string, which: "admin" | "public" | "both", dataDir: string): number {
  const path = join(dataDir, `${projectId}.db`);
  if (!existsSync(path)) {
    process.stderr.write(`latchkey: no database for project ${projectId} at ${path}\n`);
    return EXIT_CONFIG;
  }
  let db;
  try {
    db = openProjectDb(path, { projectId, nowIso: new Date().toISOString() });
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  try {
    const keys = createProjectKeys(db, createSettingsRepo(db), defaultRandomBytes);
    const kinds = which === "both" ? (["admin", "public"] as const) : ([which] as const);
    const out = keys.rotate(kinds, new Date().toISOString());
    if (out.admin) process.stdout.write(`admin_key=${out.admin}\n`);
    if (out.public) process.stdout.write(`public_key=${out.public}\n`);
    return EXIT_OK;
  } finally {
    db.close();
  }
}

function runBackupCommand(fn: () => string | void, done: string): number {
  try {
    const extra = fn();
    process.stdout.write(`${done}${extra ?? ""}\n`);
    return EXIT_OK;
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return e instanceof BackupError ? EXIT_CONFIG : EXIT_RUNTIME;
  }
}

function printGeneratedKeys(id: string, k: { admin?: string; public?: string }): void {
  const parts = [k.admin ? `admin key ${k.admin}` : "", k.public ? `public key ${k.public}` : ""].filter(Boolean);
  process.stdout.write(`project ${id}: ${parts.join(" ")} (shown once)\n`);
}

async function runServe(options: ServeOptions, env: Env): Promise<number> {
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
  const host = prepareHost(options.dataDir, configs.length, options.maxOpenProjects, log);
  if ("exit" in host) return host.exit;
  let serverKey: Uint8Array;
  try {
    serverKey = loadServerKey({ dataDir: options.dataDir, envValue: env.LATCHKEY_SERVER_KEY, random: defaultRandomBytes, create: true });
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return e instanceof ServerKeyError ? EXIT_CONFIG : EXIT_RUNTIME;
  }
  let server: ReturnType<typeof Bun.serve> | undefined;
  const booted = boot({
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
  const hostInUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
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

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`latchkey: fatal: ${message}\n`);
    process.exit(EXIT_RUNTIME);
  },
);
