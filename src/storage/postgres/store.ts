/**
 * The PostgreSQL engine of one project: its operation groups over one connection pool shared by
 * every project of the database, each project in its own schema (src/storage/postgres/schema.ts
 * creates and migrates it). Every statement names its tables qualified by the project's schema, so
 * no connection state (search_path) is needed and any pooled connection serves any project.
 */
import type { SQL, TransactionSQL } from "bun";
import type { ProjectConfig } from "../../config/types.ts";
import type { ProjectStore, StoreOps } from "../store.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { pgLinkTokens } from "./link-tokens.ts";
import { pgRateLimits } from "./rate-limits.ts";
import { pgRefreshTokens } from "./refresh-tokens.ts";
import type { PgRunner } from "./run.ts";
import { pgSessions } from "./sessions.ts";
import { projectSchemaName } from "./url.ts";
import { authModelOf, pgUsers, type AuthModel } from "./users.ts";
import { defaultRandomBytes, type RandomBytes } from "../../crypto/random.ts";
import { createPgStoreState, type PgOpsContext } from "./context.ts";
import { pgOutbox } from "./outbox.ts";
import { pgSettings } from "./settings.ts";
import { pgKeys } from "./keys.ts";
import { pgAudit } from "./audit.ts";
import { pgConsoleSessions } from "./console-sessions.ts";
import { pgAdmin } from "./admin.ts";
import { pgHousekeeping } from "./housekeeping.ts";

/** What the PostgreSQL engine of one project is built from. */
export interface PostgresStoreContext {
  /** The pool of the `--database` URL (shared by every project). */
  readonly sql: SQL;
  readonly config: ProjectConfig;
  now(): number;
  /** Randomness for what a group generates (project keys); default: the system's. */
  readonly random?: RandomBytes;
  /**
   * The key sealing what the keys group keeps for a few seconds (a rotation's key, so a racing
   * rotation on another replica answers with it): derive it from the server key. Required for
   * key rotations only.
   */
  readonly sealKey?: Uint8Array;
}

/** What every group of one store shares. */
export interface PgGroupContext extends PostgresStoreContext {
  /** The project's schema, quoted: `"latchkey_demo_app"`. */
  readonly schema: string;
  /** The declared auth table (built on first use: a project without one never asks). */
  auth(): AuthModel;
}

/**
 * The groups this engine implements so far; the others are added here, one line each, as they
 * are ported (until then a PostgreSQL store is not a full ProjectStore).
 */
export type PgStoreOps = Pick<StoreOps, "users" | "sessions" | "refreshTokens" | "linkTokens" | "rateLimits"
  | "outbox" | "settings" | "keys" | "audit" | "consoleSessions" | "admin" | "housekeeping">;

/** Every group bound to `r` (the pool, or one open transaction). */
function groups(ctx: PgGroupContext, r: PgRunner, ops: Omit<PgOpsContext, "sql" | "inTransaction">): PgStoreOps {
  const o: PgOpsContext = { ...ops, sql: r.tx ?? r.q, inTransaction: r.tx !== null };
  const sessions = (x: PgRunner) => pgSessions(ctx, x);
  const rateLimits = (x: PgRunner) => pgRateLimits(ctx, x);
  return {
    users: pgUsers(ctx, r),
    sessions: sessions(r),
    refreshTokens: pgRefreshTokens(ctx, r, { sessions, rateLimits }),
    linkTokens: pgLinkTokens(ctx, r),
    rateLimits: rateLimits(r),
    outbox: pgOutbox(o),
    settings: pgSettings(o),
    keys: pgKeys(o),
    audit: pgAudit(o),
    consoleSessions: pgConsoleSessions(o),
    admin: pgAdmin(o),
    housekeeping: pgHousekeeping(o),
  };
}

export type PostgresStore = Omit<ProjectStore, keyof StoreOps | "transaction"> &
  PgStoreOps & { transaction<T>(fn: (tx: PgStoreOps) => Promise<T>): Promise<T> };

export function createPostgresStore(ctx: PostgresStoreContext): PostgresStore {
  let auth: AuthModel | null = null;
  const shared: PgGroupContext = {
    ...ctx,
    now: () => ctx.now(),
    schema: quoteIdent(projectSchemaName(ctx.config.id)),
    auth: () => (auth ??= authModelOf(shared)),
  };
  // What the outbox, settings, keys, audit, console-session, admin and housekeeping groups share
  // (src/storage/postgres/context.ts): the schema unquoted, and one state per store (this
  // replica's outbox lease holder id).
  const ops: Omit<PgOpsContext, "sql" | "inTransaction"> = {
    schema: projectSchemaName(ctx.config.id),
    config: ctx.config,
    now: () => ctx.now(),
    random: ctx.random ?? defaultRandomBytes,
    sealKey: ctx.sealKey ?? null,
    state: createPgStoreState(),
  };
  return {
    engine: "postgres",
    ...groups(shared, { q: ctx.sql, tx: null }, ops),
    // Everything `fn` asks joins one PostgreSQL transaction; it commits when `fn` resolves.
    transaction: async <T>(fn: (tx: PgStoreOps) => Promise<T>): Promise<T> =>
      (await ctx.sql.begin((tx: TransactionSQL) => fn(groups(shared, { q: tx, tx }, ops)))) as T,
    // PostgreSQL has no database-wide write lock another process could hold: writers wait on rows.
    writeLockedElsewhere: async () => false,
  };
}

/** The end-user groups bound to a runner, for the project store that joins them with the other groups. */
export { groups as pgEndUserGroups };
