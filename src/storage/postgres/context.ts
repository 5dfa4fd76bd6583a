/**
 * What every operation group of the PostgreSQL engine is built from. A group is built twice per
 * store: once on the pool (each operation on its own, in its own transaction when it needs more
 * than one statement) and once inside `transaction(fn)` on that transaction's connection. State
 * that must outlive one binding (who this store is, the sender's claims) lives in `state`, shared
 * by both.
 */
import type { SQL, TransactionSQL } from "bun";
import type { ProjectConfig } from "../../config/types.ts";
import type { RandomBytes } from "../../crypto/random.ts";
import { quoteIdent } from "../schema/sql-text.ts";

/** State of one store, shared by its pool binding and its transaction bindings. */
export interface PgStoreState {
  /** Who holds an outbox lease taken by this store (one id per store, so per replica). */
  readonly holder: string;
  /** The attempt number of each outbox message this store holds the lease of. */
  readonly outboxClaims: Map<string, number>;
  /** The last key rotation of this store, per kind (see keys.ts). */
  readonly keyRotations: Map<string, { fromHash: string | null; toHash: string; key: string; atMs: number }>;
}

export function createPgStoreState(): PgStoreState {
  return { holder: crypto.randomUUID(), outboxClaims: new Map(), keyRotations: new Map() };
}

export interface PgOpsContext {
  /** The pool, or the transaction's connection when `inTransaction`. */
  readonly sql: SQL;
  readonly inTransaction: boolean;
  /** The project's schema name (`latchkey_<id>`), unquoted. */
  readonly schema: string;
  readonly config: ProjectConfig;
  now(): number;
  /** Randomness for what a group generates (project keys). */
  readonly random: RandomBytes;
  /** The key sealing what is stored encrypted (derived from the server key); null: key rotations refuse to run. */
  readonly sealKey: Uint8Array | null;
  readonly state: PgStoreState;
}

/** `"latchkey_x"."name"`: a table of the project's schema (names are validated project ids and fixed internal names). */
export function tableOf(ctx: Pick<PgOpsContext, "schema">, name: string): string {
  return `${quoteIdent(ctx.schema)}.${quoteIdent(name)}`;
}

/**
 * Runs `fn` atomically: in a new transaction on the pool, or in a savepoint of the caller's
 * transaction (so a failure inside leaves the caller's transaction usable, as in SQLite).
 */
export async function atomic<T>(ctx: Pick<PgOpsContext, "sql" | "inTransaction">, fn: (tx: SQL) => Promise<T>): Promise<T> {
  if (ctx.inTransaction) return (await (ctx.sql as TransactionSQL).savepoint(fn)) as T;
  return (await ctx.sql.begin(fn)) as T;
}

/** A BIGINT as Bun returns it (a string) to a number (times in ms and counters fit exactly). */
export function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

/** Rows of a query as plain objects. */
export async function rows<T = Record<string, unknown>>(sql: SQL, text: string, params: unknown[] = []): Promise<T[]> {
  return [...((await sql.unsafe(text, params)) as T[])];
}

/** How many rows an INSERT / UPDATE / DELETE changed. */
export async function changes(sql: SQL, text: string, params: unknown[] = []): Promise<number> {
  const r = (await sql.unsafe(text, params)) as unknown as { count: number | null };
  return r.count ?? 0;
}
