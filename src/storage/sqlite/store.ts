import type { Database } from "bun:sqlite";
import type { ProjectConfig } from "../../config/types.ts";
import type { ProjectStore, StoreOps } from "../store.ts";
import type { RandomBytes } from "../../crypto/random.ts";
import { TransactionGate } from "./transactions.ts";
import { sqliteLinkTokens } from "./link-tokens.ts";
import { sqliteOutbox } from "./outbox.ts";
import { sqliteRateLimits } from "./rate-limits.ts";
import { sqliteRefreshTokens } from "./refresh-tokens.ts";
import { sqliteSessions } from "./sessions.ts";
import { sqliteUsers } from "./users.ts";
import { isWriteLockedElsewhere } from "./write-lock.ts";
import { createSettingsRepo } from "./settings.ts";
import { createProjectKeys } from "./keys.ts";
import { createAuditLog } from "./audit.ts";
import { createConsoleSessions } from "./console-sessions.ts";
import { createAdminOps } from "./admin.ts";
import { createUserListing } from "./user-listing.ts";
import { createHousekeeping } from "./housekeeping.ts";

/** What the SQLite engine of one project is built from. */
export interface SqliteStoreContext {
  readonly db: Database;
  readonly config: ProjectConfig;
  now(): number;
  /** Randomness for what a group generates (project keys). */
  readonly random: RandomBytes;
}

/** The synchronous form of an operation group: what the SQLite engine implements. */
export type Sync<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};

/** Wraps every operation of a synchronous group with `wrap` (the gate's inside or outside). */
function bind<T>(ops: Sync<T>, wrap: (op: (...args: unknown[]) => unknown) => (...args: unknown[]) => Promise<unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [name, op] of Object.entries(ops as Record<string, (...args: unknown[]) => unknown>)) out[name] = wrap(op);
  return out as T;
}

/**
 * The SQLite engine of one project. Statements are prepared on first use by each group, so a
 * project that is opened but never asked anything prepares none.
 */
export function createSqliteStore(ctx: SqliteStoreContext): ProjectStore {
  const { store, groups } = buildStore(ctx);
  connections.set(store, ctx.db);
  syncGroups.set(store, groups);
  return store;
}

const connections = new WeakMap<ProjectStore, Database>();
const syncGroups = new WeakMap<ProjectStore, SyncStoreOps>();

/** The operation groups in their synchronous SQLite form. */
export type SyncStoreOps = { readonly [K in keyof StoreOps]: Sync<StoreOps[K]> };

/**
 * The synchronous operations behind a SQLite store, for callers that cannot await and are no
 * service: the metrics scrape (a gauge is read synchronously). Outside the transaction gate, so
 * reads only. Services never call this.
 */
export function sqliteOpsOf(store: ProjectStore): SyncStoreOps {
  const ops = syncGroups.get(store);
  if (!ops) throw new Error("not a SQLite store");
  return ops;
}

/**
 * The connection behind a SQLite store, for what works on the file itself rather than through
 * operations (backup, the schema planner at boot) and for tests that inspect stored rows.
 * Services never call this.
 */
export function sqliteDatabaseOf(store: ProjectStore): Database {
  const db = connections.get(store);
  if (!db) throw new Error("not a SQLite store");
  return db;
}

/**
 * One gate per connection, not per store: two runtimes of a project can share a connection (a
 * reload hands it on, a project reopened while its closing waited for older requests takes it
 * back), and their transactions must still wait for each other.
 */
const gates = new WeakMap<Database, TransactionGate>();

function gateOf(db: Database): TransactionGate {
  let gate = gates.get(db);
  if (!gate) {
    gate = new TransactionGate(db);
    gates.set(db, gate);
  }
  return gate;
}

function buildStore(ctx: SqliteStoreContext): { store: ProjectStore; groups: SyncStoreOps } {
  const gate = gateOf(ctx.db);
  // One synchronous implementation per group, shared by the two bindings below.
  const settings = createSettingsRepo(ctx.db);
  const sessions = sqliteSessions(ctx);
  const rateLimits = sqliteRateLimits(ctx);
  const groups = {
    users: sqliteUsers(ctx),
    sessions,
    refreshTokens: sqliteRefreshTokens(ctx, { sessions, rateLimits }),
    linkTokens: sqliteLinkTokens(ctx),
    outbox: sqliteOutbox(ctx),
    rateLimits,
    settings,
    keys: createProjectKeys(ctx.db, settings, ctx.random),
    audit: createAuditLog(ctx.db),
    consoleSessions: createConsoleSessions(ctx.db),
    admin: createAdminOps(ctx.db),
    userListing: createUserListing(ctx.db),
    housekeeping: createHousekeeping(ctx.db),
  } satisfies SyncStoreOps;
  const outside = (op: (...args: unknown[]) => unknown) => gate.outside(op);
  const inside = (op: (...args: unknown[]) => unknown) => gate.inside(op);
  const bindAll = (wrap: typeof outside): StoreOps => {
    const ops: Record<string, unknown> = {};
    for (const [name, group] of Object.entries(groups)) ops[name] = bind(group as Sync<object>, wrap);
    return ops as unknown as StoreOps;
  };
  const tx = bindAll(inside);
  const store: ProjectStore = {
    engine: "sqlite",
    ...bindAll(outside),
    transaction: (fn) => gate.run(() => fn(tx)),
    // Not gated: while this connection's own transaction is open, nobody else holds the lock.
    writeLockedElsewhere: async () => !ctx.db.inTransaction && isWriteLockedElsewhere(ctx.db),
  };
  return { store, groups };
}
