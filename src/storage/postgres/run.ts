/**
 * How the PostgreSQL engine's operations reach the database: each group is built over a `PgRunner`,
 * either the pool (every statement on its own, a multi-statement operation in a transaction of its
 * own) or an open transaction of `store.transaction(fn)` (everything joins it).
 */
import type { SQL, TransactionSQL } from "bun";

export interface PgRunner {
  /** Where single statements go: the pool, or the open transaction. */
  readonly q: SQL;
  /** The open transaction the operations join, or null on the pool. */
  readonly tx: TransactionSQL | null;
}

/** The rows of one statement (`text` holds only validated, quoted identifiers; values are bound). */
export async function rows<T>(q: SQL, text: string, params: readonly unknown[] = []): Promise<T[]> {
  return (await q.unsafe(text, params as unknown[])) as T[];
}

/** How many rows a statement wrote. */
export async function changes(q: SQL, text: string, params: readonly unknown[] = []): Promise<number> {
  const result = (await q.unsafe(text, params as unknown[])) as unknown as { count: number | null };
  return result.count ?? 0;
}

/** Runs `fn` atomically: in a transaction of its own on the pool, or inside the open one. */
export async function atomic<T>(r: PgRunner, fn: (tx: TransactionSQL) => Promise<T>): Promise<T> {
  if (r.tx) return await fn(r.tx);
  return (await r.q.begin((tx) => fn(tx))) as T;
}

/**
 * Runs one statement so that its failing (an error the caller catches and answers) leaves the
 * surrounding work usable: in a savepoint inside an open transaction (a failed statement would
 * otherwise abort the whole transaction), as it is on the pool.
 */
export async function recoverable<T>(r: PgRunner, fn: (q: SQL) => Promise<T>): Promise<T> {
  if (r.tx) return (await r.tx.savepoint((sp) => fn(sp))) as T;
  return await fn(r.q);
}

/** PostgreSQL's SQLSTATE of an error the server raised, or null. */
export function sqlState(e: unknown): string | null {
  if (typeof e !== "object" || e === null) return null;
  const errno = (e as { errno?: unknown }).errno;
  return typeof errno === "string" ? errno : null;
}

export const UNIQUE_VIOLATION = "23505";
/** A transaction PostgreSQL aborted so that another one could go on: running it again is correct. */
export const DEADLOCK_DETECTED = "40P01";
export const SERIALIZATION_FAILURE = "40001";

/**
 * Runs a whole transaction again (at most `attempts` times, after a short random pause) when
 * PostgreSQL aborted it for a deadlock or a serialization failure. Two transactions that take the
 * same rows in opposite orders (a password reset holding its link token and waiting for the user
 * row, an email change holding the user row and revoking that link) are not a bug of either: one
 * is rolled back whole, and its second run sees what the other committed and decides on that. Any
 * other error, or the last attempt's, is thrown as it came.
 */
export async function retryAborted<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      const state = sqlState(e);
      if (attempt >= attempts || (state !== DEADLOCK_DETECTED && state !== SERIALIZATION_FAILURE)) throw e;
      await Bun.sleep(5 + Math.floor(Math.random() * 20 * attempt));
    }
  }
}
export const FOREIGN_KEY_VIOLATION = "23503";

/** A BIGINT as PostgreSQL hands it over (text) -> number; unix ms and counts fit a double exactly. */
export function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
