import type { Database } from "bun:sqlite";
import { safeParse } from "valibot";
import { dirname, join } from "node:path";
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import type { ProjectConfig } from "../config/types.ts";
import type { MailProvider, PasswordHasher } from "../plugin-api.ts";
import type { PluginRegistry } from "../../plugins/index.ts";
import type { Logger } from "../log.ts";
import type { RandomBytes } from "../crypto/random.ts";
import { deriveKey } from "../crypto/digest.ts";
import { createHashService, type DummyHashCache, type HashLimiter, type HashService } from "../crypto/hash-service.ts";
import { applyProjectSchema, closeProjectDb, inBootTransaction, nextMailAt, openProjectDb, pendingSchemaChanges } from "../storage/sqlite/project-db.ts";
import { checkFilesWritable } from "../storage/sqlite/open.ts";
import type { SettingsRepo } from "../storage/sqlite/settings.ts";
import { createProjectKeys, type ProjectKeys } from "../storage/sqlite/keys.ts";
import { createJwtSecrets, type JwtSecrets } from "../storage/sqlite/jwt-secrets.ts";
import { createTokenSigner, type TokenSigner } from "./token-signer.ts";
import { createSignerStorage } from "../storage/sqlite/signing-keys.ts";
import { pluginSource } from "../plugin-host/load-plugin-files.ts";
import { withAuditTrail } from "./audit-trail.ts";
import type { ProjectStore } from "../storage/store.ts";
import { createSqliteStore } from "../storage/sqlite/store.ts";
import { ORIGINS_KEY } from "../storage/settings.ts";

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
  /**
   * Wraps every password hasher a project builds (configured and installed). A seam for tests,
   * which count the hash work each path does; the server leaves it unset.
   */
  readonly instrumentHasher?: (hasher: PasswordHasher) => PasswordHasher;
}

/** A project's token issuer and the subkeys of the server key it uses (the same on every engine). */
export function projectIdentity(id: string, deps: Pick<ServerDeps, "publicUrl" | "serverKey">): Pick<ProjectRuntime, "issuer" | "secrets"> {
  return {
    issuer: `${deps.publicUrl}/p/${id}`,
    secrets: { refresh: deriveKey(deps.serverKey, `refresh:${id}`), link: deriveKey(deps.serverKey, `link:${id}`) },
  };
}

/** The key under which projects share a dummy hash: the hasher and its options. */
export function hasherConfigKey(config: ProjectConfig): string {
  return JSON.stringify([config.auth.hasher.id, config.auth.hasher.options]);
}

/** Everything one loaded project needs at request time. */
export interface ProjectRuntime {
  readonly id: string;
  readonly config: ProjectConfig;
  /** Everything the services may ask of the project's database (see src/storage/store.ts). */
  readonly store: ProjectStore;
  /**
   * The SQLite connection, for the tests that read stored rows (`sqliteDatabaseOf(store)` is the
   * same). No service uses it: they go through `store`.
   */
  readonly db: Database;
  /** Checks the public key on end-user routes (src/http/public-key.ts); rotation goes through `store.keys`. */
  readonly keys: Pick<ProjectKeys, "matches">;
  /** The HS256 secret in force (the signer's; rotation goes through `signer.rotateNow`). */
  readonly jwt: Pick<JwtSecrets, "current">;
  /** Signs and verifies access tokens with the configured algorithm (SPEC 7.1, 13). */
  readonly signer: TokenSigner;
  readonly hashes: HashService;
  readonly mailProvider: MailProvider;
  /** `iss` of this project's access tokens. */
  readonly issuer: string;
  /** Subkeys of the server key for this project (never stored). */
  readonly secrets: { readonly refresh: Uint8Array; readonly link: Uint8Array };
  readonly log: Logger;
  readonly deps: ServerDeps;
  /** The redirect origins in force, read synchronously (the end-user services; see `store.settings`). */
  redirectOrigins(): string[];
  /**
   * PostgreSQL only: re-reads the settings snapshot (keys, origins, secret) that `keys`,
   * `redirectOrigins` and the signer answer from. Absent on SQLite, whose answers read the database.
   */
  readonly refresh?: () => Promise<void>;
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

export { ORIGINS_KEY } from "../storage/settings.ts";
export { CONFIRM_TRUE_SPENT_KEY } from "../storage/sqlite/project-db.ts";

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
  const db = opts.db ?? openProjectDb(join(deps.dataDir, `${config.id}.db`), { projectId: config.id, nowIso, alreadyChecked: opts.alreadyChecked });
  // Every security event of this project is also an audit row in its database (SPEC 12). The
  // store is made once the runtime is: events logged while the project loads use a boot store.
  let runtime: ProjectRuntime | null = null;
  let bootStore: ProjectStore | null = null;
  const storeOf = (): ProjectStore => runtime?.store ?? (bootStore ??= createSqliteStore({ db, config, now: deps.now, random: deps.random }));
  const log = withAuditTrail(deps.log.child({ project: config.id }), () => storeOf().audit, deps.now);
  try {
    const { settings, keys, jwt, signer, generatedKeys } = prepareProjectDb(config, deps, db, nowIso, log);
    runtime = buildRuntime(config, deps, db, { settings, keys, jwt, signer }, log);
    return { runtime, generatedKeys };
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
  const db = openProjectDb(join(deps.dataDir, `${config.id}.db`), { projectId: config.id, nowIso });
  let store: ProjectStore | null = null;
  const log = withAuditTrail(deps.log.child({ project: config.id }), () => (store ??= createSqliteStore({ db, config, now: deps.now, random: deps.random })).audit, deps.now);
  try {
    const { generatedKeys } = prepareProjectDb(config, deps, db, nowIso, log);
    return { generatedKeys, nextMailAt: nextMailAt(db) };
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
  checkFilesWritable(path);
  const key = cache ? planCacheKey(path, config) : "";
  const known = cache?.get(config.id);
  if (known && known.key === key) return { inSync: true, nextMailAt: known.nextMailAt };
  // The integrity check (a read of the whole file) runs here, at boot, for files that changed
  // since the boot that last checked them; an untouched file was checked then.
  const db = openProjectDb(path, { readonly: true, projectId: config.id, nowIso: new Date(deps.now()).toISOString() });
  try {
    if (pendingSchemaChanges(db, config) > 0) return { inSync: false, nextMailAt: null };
    const at = nextMailAt(db);
    cache?.set(config.id, { key, nextMailAt: at });
    return { inSync: true, nextMailAt: at };
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
    chmodSync(`${path}.tmp`, 0o600); // a left-over .tmp keeps its old mode through writeFileSync
    renameSync(`${path}.tmp`, path);
  } catch (e) {
    log.warn("cannot write the boot plan cache; the next boot plans every project", { error: e instanceof Error ? e.message : String(e) });
  }
}

function prepareProjectDb(config: ProjectConfig, deps: ServerDeps, db: Database, nowIso: string, log: Logger) {
  {
    const settings = applyProjectSchema(db, config, { dataDir: deps.dataDir, nowIso, log });

    const keys = createProjectKeys(db, settings, deps.random);
    const declaredOrigins = config.allowedRedirectOrigins === undefined ? null : JSON.stringify(config.allowedRedirectOrigins);
    // One transaction (one fsync) for every boot-time write: keys, origins, the JWT secret, signing keys.
    const { generatedKeys, jwt, signer, switchedFrom } = inBootTransaction(db, () => {
      const generated = keys.ensure(config.keys, nowIso);
      settings.reconcile(ORIGINS_KEY, declaredOrigins, () => "[]", nowIso);
      const secrets = createJwtSecrets(db, { sealKey: deriveKey(deps.serverKey, "jwt-seal"), projectId: config.id, random: deps.random, nowIso });
      const signerStorage = createSignerStorage(db, { sealKey: deriveKey(deps.serverKey, "signing-key-seal"), projectId: config.id });
      const signing = createTokenSigner(signerStorage, {
        algorithm: config.auth.signing.algorithm,
        rotateEverySeconds: config.auth.signing.rotateEverySeconds,
        accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
        secrets,
        settings,
        nowMs: deps.now(),
      });
      return { generatedKeys: generated, jwt: secrets, ...signing };
    });
    if (switchedFrom !== null) log.event("signing_algorithm_changed", { from: switchedFrom, to: config.auth.signing.algorithm });
    return { settings, keys, jwt, signer, generatedKeys };
  }
}

export function pluginContext(config: ProjectConfig, log: Logger) {
  return { baseDir: dirname(config.filePath), log: (level: "debug" | "info" | "warn" | "error", msg: string, f?: Record<string, unknown>) => log.log(level, msg, f) };
}

/** Plugin configurations this server has built once (see `checkProjectPlugins`). */
const checkedPlugins = new WeakMap<ServerDeps, Set<string>>();

/**
 * Builds a project's hashers and mail provider once per distinct plugin configuration, without
 * its database: a plugin whose create() fails or returns the wrong shape fails its project at boot
 * (or reload), not at the project's first request. The provider is closed again at once.
 */
export function checkProjectPlugins(config: ProjectConfig, deps: ServerDeps): void {
  let seen = checkedPlugins.get(deps);
  if (!seen) checkedPlugins.set(deps, (seen = new Set()));
  const key = JSON.stringify([dirname(config.filePath), config.auth.hasher, config.mail.provider]);
  if (seen.has(key)) return;
  const log = deps.log.child({ project: config.id });
  createProjectHashes(config, deps, log);
  const mailFactory = deps.registry.mailProviders[config.mail.provider.id];
  const provider = checkedMailProvider(mailFactory.create(config.mail.provider.options, pluginContext(config, log)), mailFactory);
  void Promise.resolve()
    .then(() => provider.close?.())
    .catch(() => undefined);
  seen.add(key);
}

/** The project's hash service (no database needed: the boot makes dummy hashes with it). */
export function createProjectHashes(config: ProjectConfig, deps: ServerDeps, log: Logger = deps.log.child({ project: config.id })): HashService {
  const pluginCtx = pluginContext(config, log);
  const hasherFactory = deps.registry.hashers[config.auth.hasher.id];
  const instrument = deps.instrumentHasher ?? ((h: PasswordHasher): PasswordHasher => h);
  const configured = instrument(checkedHasher(hasherFactory.create(config.auth.hasher.options, pluginCtx), hasherFactory));
  // Every installed hasher verifies its own format with its default options; one whose options
  // have no defaults (a plugin file may require some) can only be the configured one.
  const installed: PasswordHasher[] = Object.values(deps.registry.hashers).flatMap((f) => {
    if (f.id === configured.id) return [configured];
    const defaults = safeParse(f.optionsSchema, {});
    return defaults.success ? [instrument(checkedHasher(f.create(defaults.output, pluginCtx), f))] : [];
  });
  return createHashService({
    configured,
    installed,
    limiter: deps.hashLimiter,
    key: config.id,
    dummies: deps.dummyHashes ? { cache: deps.dummyHashes, key: hasherConfigKey(config) } : undefined,
  });
}

function buildRuntime(
  config: ProjectConfig,
  deps: ServerDeps,
  db: Database,
  { settings, keys, jwt, signer }: { settings: SettingsRepo; keys: ProjectKeys; jwt: JwtSecrets; signer: TokenSigner },
  log: Logger,
): ProjectRuntime {
  {

    const pluginCtx = pluginContext(config, log);
    const mailFactory = deps.registry.mailProviders[config.mail.provider.id];
    const mailProvider = checkedMailProvider(mailFactory.create(config.mail.provider.options, pluginCtx), mailFactory);

    const closeHooks: (() => Promise<void> | void)[] = [];
    let released = false;
    let store: ProjectStore | null = null;
    const runtime: ProjectRuntime = {
      id: config.id,
      config,
      get store() {
        return (store ??= createSqliteStore({ db, config, now: deps.now, random: deps.random }));
      },
      db,
      keys,
      jwt,
      signer,
      hashes: createProjectHashes(config, deps, log),
      mailProvider,
      ...projectIdentity(config.id, deps),
      log,
      deps,
      redirectOrigins: () => settings.redirectOrigins(),
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


/** A plugin's `create` must return the object its kind promises (plugin files are not type-checked). */
function checkedHasher(h: PasswordHasher, factory: { readonly id: string }): PasswordHasher {
  const id = factory.id;
  const ok = typeof h === "object" && h !== null && h.id === id &&
    typeof h.hash === "function" && typeof h.verify === "function" && typeof h.canVerify === "function" &&
    (h.needsRehash === undefined || typeof h.needsRehash === "function");
  if (!ok) throw new Error(`hasher plugin "${id}"${fromFile(factory)}: create() must return { id: "${id}", hash, verify, canVerify, needsRehash? }`);
  return h;
}

export function checkedMailProvider(m: MailProvider, factory: { readonly id: string }): MailProvider {
  const id = factory.id;
  const ok = typeof m === "object" && m !== null && m.id === id && typeof m.send === "function" &&
    (m.verify === undefined || typeof m.verify === "function") && (m.close === undefined || typeof m.close === "function");
  if (!ok) throw new Error(`mail plugin "${id}"${fromFile(factory)}: create() must return { id: "${id}", send, verify?, close? }`);
  return m;
}

function fromFile(factory: object): string {
  const file = pluginSource(factory);
  return file === undefined ? "" : ` (${file})`;
}

/**
 * After this replica changed keys or origins: its in-memory snapshot (PostgreSQL) takes the
 * change before the request answers, as SQLite does (other replicas follow within 1 s). The first
 * refresh may be one already under way, which read before the change committed; the second
 * starts after it.
 */
export async function settingsChangedHere(p: Pick<ProjectRuntime, "refresh">): Promise<void> {
  if (!p.refresh) return;
  await p.refresh();
  await p.refresh();
}
