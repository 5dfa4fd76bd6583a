import type { Database, Statement } from "bun:sqlite";

/**
 * A statement prepared on first use and kept for the life of the store: a project that is open but
 * never asked anything prepares nothing, and a hot path parses its SQL once.
 */
export function prepared(db: Database, sql: string): () => Statement {
  let stmt: Statement | null = null;
  return () => (stmt ??= db.prepare(sql));
}
