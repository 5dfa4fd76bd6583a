#!/usr/bin/env bun
import pkg from "../package.json" with { type: "json" };
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HELP, parseArgs, UsageError, type ServeOptions } from "./cli/args.ts";
import { loadProjects, formatConfigIssue } from "./config/load.ts";
import { BUILTIN_PLUGINS } from "../plugins/index.ts";
import { createLogger } from "./log.ts";
import { loadServerKey, ServerKeyError } from "./server-key.ts";
import { defaultRandomBytes } from "./crypto/random.ts";
import { parseTrustedProxies } from "./http/client-ip.ts";
import { boot } from "./boot.ts";
import { openProjectDb } from "./db/open.ts";
import { planSchema, formatPlan } from "./schema/index.ts";
import { createSettingsRepo } from "./db/settings.ts";
import { createProjectKeys } from "./db/keys.ts";
import { BackupError, backupProject, restoreProject } from "./db/backup.ts";
import { createServerMetrics } from "./metrics/server-metrics.ts";
import { createReloader } from "./projects/reloader.ts";
import { watchProjectFiles } from "./projects/watch-files.ts";

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
    case "check":
      return runCheck(cmd.configPaths, cmd.dataDir, env);
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

function loadConfigsOrReport(paths: readonly string[], env: Env) {
  const { projects, issues } = loadProjects(paths, { env, registry: BUILTIN_PLUGINS });
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

function runCheck(paths: readonly string[], dataDir: string | null, env: Env): number {
  const configs = loadConfigsOrReport(paths, env);
  if (!configs) return EXIT_CONFIG;
  let failed = false;
  for (const config of configs) {
    const dbPath = dataDir === null ? null : join(dataDir, `${config.id}.db`);
    let db = null;
    try {
      if (dbPath && existsSync(dbPath)) db = openProjectDb(dbPath, { readonly: true, projectId: config.id, nowIso: new Date().toISOString() });
      const plan = planSchema(db, config.tables, { confirmDestructive: config.confirmDestructive });
      process.stdout.write(`project ${config.id} (${config.filePath}):\n${formatPlan(plan)}\n`);
      if (plan.blocked) {
        failed = true;
        process.stderr.write(`project ${config.id}: destructive changes need confirm_destructive: true\n`);
      }
    } catch (e) {
      failed = true;
      process.stderr.write(`project ${config.id}: ${(e as Error).message}\n`);
    } finally {
      db?.close();
    }
  }
  return failed ? EXIT_CONFIG : EXIT_OK;
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
    const keys = createProjectKeys(createSettingsRepo(db), defaultRandomBytes);
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
  const configs = loadConfigsOrReport(options.configPaths, env);
  if (!configs) return EXIT_CONFIG;
  const metrics = options.metrics ? createServerMetrics() : undefined;
  const log = createLogger({ level: options.logLevel, observe: metrics ? (level, msg, fields) => metrics.observeLog(level, msg, fields) : undefined });
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
    registry: BUILTIN_PLUGINS,
    log,
    trustedProxies: trusted,
    peerIp: (request) => server?.requestIP(request)?.address ?? null,
    // The port opens first so /healthz answers while the databases load; /readyz and each
    // project's routes answer 503 until it is loaded (a fleet of projects loads in the background).
    deferLoading: true,
    maxOpenProjects: options.maxOpenProjects ?? undefined,
    onGeneratedKeys: printGeneratedKeys,
    metrics: metrics ? { metrics, token: env.LATCHKEY_METRICS_TOKEN || null } : undefined,
  });
  try {
    // app.listen hands every route to Bun's native router (no JS routing per request); anything
    // unmatched falls through to the app's fetch, which answers 404/405 in the envelope.
    booted.app.listen({
      hostname: options.host,
      port: options.port,
      // Above the app's 64 KiB limit on purpose: Bun's own 413 has no envelope or request id.
      maxRequestBodySize: 8 * 1024 * 1024,
      // Never share the port with another process (Elysia's default is true).
      reusePort: false,
      development: false,
    });
    server = booted.app.server ?? undefined;
    if (!server) throw new Error("the server did not start");
  } catch (e) {
    process.stderr.write(`latchkey: cannot listen on ${options.host}:${options.port}: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  const listening = server;

  const reloader = createReloader({
    load: () => loadProjects(options.configPaths, { env, registry: BUILTIN_PLUGINS }),
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
  const hostInUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  // Printed once every project has loaded (or failed), so "listening" also means "ready to serve".
  log.info(`listening on http://${hostInUrl}:${listening.port}`, {
    projects: [...booted.projects.keys()],
    failed: booted.failures.map((f) => f.id),
    watch: options.watch,
    metrics: options.metrics,
  });
  return stopped;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`latchkey: fatal: ${message}\n`);
    process.exit(EXIT_RUNTIME);
  },
);
