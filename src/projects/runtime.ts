import type { Database } from "bun:sqlite";
import { parse } from "valibot";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { dirname, join } from "node:path";
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import type { ProjectConfig } from "../config/types.ts";
import type { MailProvider, PasswordHasher } from "../plugin-api.ts";
import type { PluginRegistry } from "../../plugins/index.ts";
import type { Logger } from "../log.ts";
import type { RandomBytes } from "../crypto/random.ts";
import { deriveKey } from "../crypto/digest.ts";
import { createHashService, type DummyHashCache, type HashLimiter, type HashService } from "../crypto/hash-service.ts";
import { closeProjectDb, openProjectDb } from "../db/open.ts";
import { createSettingsRepo, type SettingsRepo } from "../db/settings.ts";
import { createProjectKeys, type ProjectKeys } from "../db/keys.ts";
import { createJwtSecrets, type JwtSecrets } from "../db/jwt-secrets.ts";
import { createRateLimiter, type RateLimiter } from "../db/rate-limits.ts";
import { applySchema, buildDrizzleTables, planSchema } from "../schema/index.ts";
import { destructivePlanId } from "../schema/destructive-plan-id.ts";
import { backupBeforeDestructivePlan } from "../db/backup.ts";

/** Process-wide dependencies, built once by the composition root. Time and randomness are injected. */
export interface ServerDeps {
  now(): number;
  readonly random: RandomBytes;
  readonly log: Logger;
  readonly serverKey: Uint8Array;
  /** Base of every link and of the `iss` claim; never taken from a request's Host header. */
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly hashLimiter: HashLimiter;
  readonly registry: PluginRegistry;
  /** Dummy hashes shared by every project with the same hasher configuration (SPEC 9.4). */
  readonly dummyHashes?: DummyHashCache;
}

/** The key under which projects share a dummy hash: the hasher and its options. */
export function hasherConfigKey(config: ProjectConfig): string {
  return JSON.stringify([config.auth.hasher.id, config.auth.hasher.options]);
}

/** Everything one loaded project needs at request time. */
export interface ProjectRuntime {
  readonly id: string;
  readonly config: ProjectConfig;
  readonly db: Database;
  readonly orm: BunSQLiteDatabase;
  readonly tables: ReturnType<typeof buildDrizzleTables>;
  readonly settings: SettingsRepo;
  readonly keys: ProjectKeys;
  readonly jwt: JwtSecrets;
  readonly rateLimiter: RateLimiter;
  readonly hashes: HashService;
  readonly mailProvider: MailProvider;
  /** `iss` of this project's access tokens. */
  readonly issuer: string;
  /** Subkeys of the server key for this project (never stored). */
  readonly secrets: { readonly refresh: Uint8Array; readonly link: Uint8Array };
  readonly log: Logger;
  readonly deps: ServerDeps;
  redirectOrigins(): string[];
  setRedirectOrigins(origins: readonly string[]): void;
  /** Hooks run on close (the mail sender registers its stop here). */
  onClose(fn: () => Promise<void> | void): void;
  /** Stops the background work and the mail provider but leaves the database open (a reload hands it on). */
  release(): Promise<void>;
  close(): Promise<void>;
}

export interface LoadedProject {
  readonly runtime: ProjectRuntime;
  /** Keys generated at this boot, to print once. */
  readonly generatedKeys: { admin?: string; public?: string };
}

const ORIGINS_KEY = "allowed_redirect_origins";

/**
 * Opens the project database, applies the schema plan, reconciles keys/settings and builds plugins.
 * A reload passes the open connection of the running project (`db`): the schema change is applied
 * on it and the new runtime takes it over, so requests still running on the old one never meet a
 * closed database. A failure then leaves that connection open for the old runtime.
 */
export function loadProjectRuntime(
  config: ProjectConfig,
  deps: ServerDeps,
  opts: { db?: Database; alreadyChecked?: boolean } = {},
): LoadedProject {
  const nowIso = new Date(deps.now()).toISOString();
  const log = deps.log.child({ project: config.id });
  const db = opts.db ?? openProjectDb(join(deps.dataDir, `${config.id}.db`), { projectId: config.id, nowIso, alreadyChecked: opts.alreadyChecked });
  try {
    const { settings, keys, jwt, generatedKeys } = prepareProjectDb(config, deps, db, nowIso, log);
    return { runtime: buildRuntime(config, deps, db, { settings, keys, jwt }, log), generatedKeys };
  } catch (e) {
    if (!opts.db) closeProjectDb(db);
    throw e;
  }
}

/**
 * Opens a project database once, applies its schema plan and reconciles keys, settings and the JWT
 * secret, then closes it (the boot and reload check of a project that is not open). Returns the
 * keys generated now and the earliest pending mail (null: none), so the caller can come back for it.
 */
export function checkProjectDb(config: ProjectConfig, deps: ServerDeps): { generatedKeys: { admin?: string; public?: string }; nextMailAt: number | null } {
  const nowIso = new Date(deps.now()).toISOString();
  const log = deps.log.child({ project: config.id });
  const db = openProjectDb(join(deps.dataDir, `${config.id}.db`), { projectId: config.id, nowIso });
  try {
    const { generatedKeys } = prepareProjectDb(config, deps, db, nowIso, log);
    const row = db.query("SELECT MIN(next_attempt_at) AS at FROM _outbox WHERE status = 'pending'").get() as { at: number | null };
    return { generatedKeys, nextMailAt: row.at };
  } finally {
    closeProjectDb(db);
  }
}

/**
 * The boot-time look at a project database: opened read-only (no write, no WAL checkpoint), its
 * integrity checked, its marker checked and its schema planned. `inSync` when the plan has no
 * change: the project then stays closed and is fully loaded (keys, secrets) on its first request. Otherwise (a new database, a schema change, a refused plan) the caller does
 * the full `checkProjectDb`, which applies the plan or fails.
 */
export function planProjectDb(
  config: ProjectConfig,
  deps: ServerDeps,
  cache?: PlanCache,
): { inSync: boolean; nextMailAt: number | null } {
  const path = join(deps.dataDir, `${config.id}.db`);
  if (!existsSync(path) || statSync(path).size === 0) return { inSync: false, nextMailAt: null };
  const key = cache ? planCacheKey(path, config) : "";
  const known = cache?.get(config.id);
  if (known && known.key === key) return { inSync: true, nextMailAt: known.nextMailAt };
  // The integrity check (a read of the whole file) runs here, at boot, for files that changed
  // since the boot that last checked them; an untouched file was checked then.
  const db = openProjectDb(path, { readonly: true, projectId: config.id, nowIso: new Date(deps.now()).toISOString() });
  try {
    const plan = planSchema(db, config.tables, { confirmDestructive: config.confirmDestructive });
    if (plan.changes.length > 0) return { inSync: false, nextMailAt: null };
    const row = db.query("SELECT MIN(next_attempt_at) AS at FROM _outbox WHERE status = 'pending'").get() as { at: number | null };
    cache?.set(config.id, { key, nextMailAt: row.at });
    return { inSync: true, nextMailAt: row.at };
  } finally {
    closeProjectDb(db);
  }
}

/**
 * Boot plans remembered across restarts (`{data}/.latchkey-plans.json`): a project whose database
 * files were not touched since the last boot found them in sync (same device, inode, size and
 * modification time of the database and its WAL), and whose tables are declared the same, is not
 * opened again to be planned. Any write changes the modification time, so only idle projects
 * skip the look; their first request still does the full load (integrity check included).
 */
export type PlanCache = Map<string, { key: string; nextMailAt: number | null }>;

const PLAN_CACHE_FILE = ".latchkey-plans.json";

function planCacheKey(path: string, config: ProjectConfig): string {
  const file = (p: string): string => {
    try {
      const st = statSync(p);
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return "-";
    }
  };
  const declared = Bun.hash(JSON.stringify([config.tables, config.confirmDestructive])).toString(36);
  return `${file(path)}|${file(`${path}-wal`)}|${declared}`;
}

/** Remembers a project just checked (and closed) as in sync, for the next boot. */
export function rememberPlan(cache: PlanCache, config: ProjectConfig, deps: ServerDeps, nextMailAt: number | null): void {
  cache.set(config.id, { key: planCacheKey(join(deps.dataDir, `${config.id}.db`), config), nextMailAt });
}

export function readPlanCache(dataDir: string): PlanCache {
  try {
    const raw = JSON.parse(readFileSync(join(dataDir, PLAN_CACHE_FILE), "utf8")) as Record<string, { key: string; nextMailAt: number | null }>;
    return new Map(Object.entries(raw).filter(([, v]) => typeof v?.key === "string"));
  } catch {
    return new Map(); // none yet, or unreadable: every project is planned
  }
}

export function writePlanCache(dataDir: string, cache: PlanCache, log: Logger): void {
  const path = join(dataDir, PLAN_CACHE_FILE);
  try {
    writeFileSync(`${path}.tmp`, JSON.stringify(Object.fromEntries(cache)), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch (e) {
    log.warn("cannot write the boot plan cache; the next boot plans every project", { error: e instanceof Error ? e.message : String(e) });
  }
}

function prepareProjectDb(config: ProjectConfig, deps: ServerDeps, db: Database, nowIso: string, log: Logger) {
  {
    const plan = applySchema(db, config.tables, {
      confirmDestructive: config.confirmDestructive,
      nowIso,
      beforeDestructive: (planned) => {
        const path = backupBeforeDestructivePlan(db, { dataDir: deps.dataDir, projectId: config.id, planId: destructivePlanId(planned) });
        log.info("backup written before a destructive schema change", { file: path, changes: planned.destructive.length });
      },
    });
    for (const c of plan.changes) log.info("schema change applied", { change: c.kind, table: c.table, column: c.column });

    const settings = createSettingsRepo(db);
    const keys = createProjectKeys(settings, deps.random);
    const declaredOrigins = config.allowedRedirectOrigins === undefined ? null : JSON.stringify(config.allowedRedirectOrigins);
    // One transaction (one fsync) for every boot-time write: keys, origins, the JWT secret.
    const { generatedKeys, jwt } = db.transaction(() => {
      const generated = keys.ensure(config.keys, nowIso);
      settings.reconcile(ORIGINS_KEY, declaredOrigins, () => "[]", nowIso);
      const secrets = createJwtSecrets(db, { sealKey: deriveKey(deps.serverKey, "jwt-seal"), projectId: config.id, random: deps.random, nowIso });
      return { generatedKeys: generated, jwt: secrets };
    })();
    return { settings, keys, jwt, generatedKeys };
  }
}

function pluginContext(config: ProjectConfig, log: Logger) {
  return { baseDir: dirname(config.filePath), log: (level: "debug" | "info" | "warn" | "error", msg: string, f?: Record<string, unknown>) => log.log(level, msg, f) };
}

/** The project's hash service (no database needed: the boot makes dummy hashes with it). */
export function createProjectHashes(config: ProjectConfig, deps: ServerDeps, log: Logger = deps.log.child({ project: config.id })): HashService {
  const pluginCtx = pluginContext(config, log);
  const hasherFactory = deps.registry.hashers[config.auth.hasher.id];
  const configured = hasherFactory.create(config.auth.hasher.options, pluginCtx);
  const installed: PasswordHasher[] = Object.values(deps.registry.hashers).map((f) =>
    f.id === configured.id ? configured : f.create(parse(f.optionsSchema, {}), pluginCtx),
  );
  return createHashService({
    configured,
    installed,
    limiter: deps.hashLimiter,
    dummies: deps.dummyHashes ? { cache: deps.dummyHashes, key: hasherConfigKey(config) } : undefined,
  });
}

function buildRuntime(
  config: ProjectConfig,
  deps: ServerDeps,
  db: Database,
  { settings, keys, jwt }: { settings: SettingsRepo; keys: ProjectKeys; jwt: JwtSecrets },
  log: Logger,
): ProjectRuntime {
  {

    const pluginCtx = pluginContext(config, log);
    const mailFactory = deps.registry.mailProviders[config.mail.provider.id];
    const mailProvider = mailFactory.create(config.mail.provider.options, pluginCtx);

    const closeHooks: (() => Promise<void> | void)[] = [];
    let released = false;
    // Built on first use: most requests never touch drizzle, and an idle project never does.
    let orm: BunSQLiteDatabase | null = null;
    let tables: ReturnType<typeof buildDrizzleTables> | null = null;
    let rateLimiter: RateLimiter | null = null;
    const runtime: ProjectRuntime = {
      id: config.id,
      config,
      db,
      get orm() {
        return (orm ??= drizzle({ client: db }));
      },
      get tables() {
        // Stored-value mode: the modules validate and convert column values themselves.
        return (tables ??= buildDrizzleTables(config.tables, { storedValues: true }));
      },
      settings,
      keys,
      jwt,
      get rateLimiter() {
        return (rateLimiter ??= createRateLimiter(db));
      },
      hashes: createProjectHashes(config, deps, log),
      mailProvider,
      issuer: `${deps.publicUrl}/p/${config.id}`,
      secrets: {
        refresh: deriveKey(deps.serverKey, `refresh:${config.id}`),
        link: deriveKey(deps.serverKey, `link:${config.id}`),
      },
      log,
      deps,
      redirectOrigins: () => JSON.parse(settings.get(ORIGINS_KEY)?.value ?? "[]") as string[],
      setRedirectOrigins: (origins) => settings.setValue(ORIGINS_KEY, JSON.stringify(origins), new Date(deps.now()).toISOString()),
      onClose: (fn) => closeHooks.push(fn),
      async release() {
        if (released) return;
        released = true;
        for (const fn of closeHooks.splice(0).reverse()) await fn();
        await mailProvider.close?.();
      },
      async close() {
        await runtime.release();
        closeProjectDb(db);
      },
    };
    return runtime;
  }
}

