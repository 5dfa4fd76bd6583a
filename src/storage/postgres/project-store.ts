/**
 * The whole PostgreSQL store of one project (every operation group of src/storage/store.ts), over
 * the server's one connection pool. The end-user groups (store.ts) and the project/admin groups
 * (context.ts) are bound to the same runner: on the pool, or inside one `transaction(fn)`.
 */
import type { SQL, TransactionSQL } from "bun";
import type { ProjectConfig } from "../../config/types.ts";
import type { RandomBytes } from "../../crypto/random.ts";
import type { ProjectStore, StoreOps } from "../store.ts";
import type { UserListingOps } from "../user-listing.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { createPgStoreState, type PgOpsContext, type PgStoreState } from "./context.ts";
import { pgEndUserGroups, type PgGroupContext as PgEndUserContext } from "./store.ts";
import { retryAborted } from "./run.ts";
import { projectSchemaName } from "./url.ts";
import { authModelOf, type AuthModel } from "./users.ts";

export interface PgProjectStoreContext {
  /** The pool of the `--database` URL (one per server, shared by every project). */
  readonly sql: SQL;
  readonly config: ProjectConfig;
  now(): number;
  readonly random: RandomBytes;
  /** The key sealing what the keys group stores encrypted (derived from the server key). */
  readonly sealKey: Uint8Array;
  /** Who this store is (its outbox leases); one per runtime. */
  readonly state?: PgStoreState;
  /** The admin users list, when this build has it on PostgreSQL. */
  readonly userListing?: (sql: SQL) => UserListingOps;
}

/** Raised by an operation this build does not have on PostgreSQL (answered 503, never a wrong answer). */
export class PgNotInThisBuildError extends Error {
  override readonly name = "PgNotInThisBuildError";
}

export function createPgProjectStore(ctx: PgProjectStoreContext): ProjectStore {
  const bindAll = pgStoreBinder(ctx);
  return {
    engine: "postgres",
    ...bindAll(ctx.sql, null),
    // A transaction PostgreSQL aborts for a deadlock is run again whole (retryAborted): `fn` only
    // touches the database through `tx`, so its first run left nothing behind.
    transaction: async <T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> =>
      await retryAborted(async () => (await ctx.sql.begin((tx: TransactionSQL) => fn(bindAll(tx, tx)))) as T),
    // PostgreSQL has no database-wide write lock another process could hold: writers wait on rows.
    writeLockedElsewhere: async () => false,
  };
}

/** Binds every group of the project to the pool (`tx` null) or to one open transaction. */
export function pgStoreBinder(ctx: PgProjectStoreContext): (sql: SQL, tx: TransactionSQL | null) => StoreOps {
  let auth: AuthModel | null = null;
  const endUser: PgEndUserContext = {
    sql: ctx.sql,
    config: ctx.config,
    now: () => ctx.now(),
    random: ctx.random,
    sealKey: ctx.sealKey,
    schema: quoteIdent(projectSchemaName(ctx.config.id)),
    auth: () => (auth ??= authModelOf(endUser)),
  };
  const ops: Omit<PgOpsContext, "sql" | "inTransaction"> = {
    schema: projectSchemaName(ctx.config.id),
    config: ctx.config,
    now: () => ctx.now(),
    random: ctx.random,
    sealKey: ctx.sealKey,
    state: ctx.state ?? createPgStoreState(),
  };
  return (sql, tx) => {
    const groups = pgEndUserGroups(endUser, { q: sql, tx }, ops);
    // The admin users list is the engine's own (src/storage/postgres/user-listing.ts) unless given.
    return { ...groups, userListing: ctx.userListing?.(sql) ?? groups.userListing };
  };
}
