/**
 * The storage interface: what a project's services may ask of its database, and the only way they
 * reach it. Every engine (SQLite today, PostgreSQL next) implements it; services never see a
 * connection, a statement or SQL.
 *
 * The rules an engine and its callers keep:
 * - Every operation is asynchronous (a PostgreSQL engine awaits the network); the SQLite engine is
 *   synchronous inside and answers with an already settled promise.
 * - Every operation is atomic on its own. The race-sensitive ones (refresh rotation with grace and
 *   reuse detection, link-token consumption, counter increments, outbox claims) are single
 *   operations that each engine implements with its own primitives (SQLite: one immediate
 *   transaction or one conditional statement; PostgreSQL: conditional `UPDATE ... RETURNING`,
 *   `FOR UPDATE SKIP LOCKED`, advisory locks), never sequences a service composes.
 * - `transaction(fn)` groups operations that must commit together (a new user, its first session
 *   and its verification mail). `fn` receives the same operations bound to the transaction and
 *   must await nothing else (no hashing, no network): the write lock is held until it returns.
 *   It must not change anything outside the database either: PostgreSQL may roll a transaction
 *   back for a deadlock and run `fn` again (see retryAborted in postgres/run.ts).
 *
 * Where SQL lives: only under `src/storage/<engine>/`. In the SQLite engine, statements on tables
 * whose shape comes from the project file (the auth table's custom columns, ref targets) are built
 * with drizzle from the declared model; statements on the internal `_` tables (and on the auth
 * table's fixed built-in columns) are plain prepared statements, each prepared once per store on
 * first use.
 */
import type { AdminOps } from "./admin.ts";
import type { AuditOps } from "./audit.ts";
import type { ConsoleSessionsOps } from "./console-sessions.ts";
import type { HousekeepingOps } from "./housekeeping.ts";
import type { KeysOps } from "./keys.ts";
import type { SettingsOps } from "./settings.ts";
import type { UserListingOps } from "./user-listing.ts";

import type { LinkTokensOps } from "./link-tokens.ts";
import type { OutboxOps } from "./outbox.ts";
import type { RateLimitsOps } from "./rate-limits.ts";
import type { RefreshTokensOps } from "./refresh-tokens.ts";
import type { SessionsOps } from "./sessions.ts";
import type { UsersOps } from "./users.ts";

/** The operation groups of a project store (one interface per group, in `src/storage/<group>.ts`). */
export interface StoreOps {
  readonly users: UsersOps;
  readonly sessions: SessionsOps;
  readonly refreshTokens: RefreshTokensOps;
  readonly linkTokens: LinkTokensOps;
  readonly outbox: OutboxOps;
  readonly rateLimits: RateLimitsOps;
  readonly settings: SettingsOps;
  readonly keys: KeysOps;
  readonly audit: AuditOps;
  readonly consoleSessions: ConsoleSessionsOps;
  readonly admin: AdminOps;
  readonly userListing: UserListingOps;
  readonly housekeeping: HousekeepingOps;
}

export interface ProjectStore extends StoreOps {
  /** Which engine serves this project. */
  readonly engine: "sqlite" | "postgres";
  /** Runs `fn` in one transaction: all its operations commit together, or none does. */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /**
   * True when another process holds the database's write lock right now (a backup, a shell).
   * Never waits; write requests poll it before they start (src/http/storage-wait.ts).
   */
  writeLockedElsewhere(): Promise<boolean>;
}
