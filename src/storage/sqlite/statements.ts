import type { Database, Statement } from "bun:sqlite";

/**
 * Statements of one operation group, each prepared on its first use and then kept for the life of
 * the store: a project that is opened but never asked anything prepares none.
 */
export function lazyStatements<K extends string>(db: Database, sql: Readonly<Record<K, string>>): Readonly<Record<K, Statement>> {
  const prepared: Partial<Record<K, Statement>> = {};
  const out = {} as Record<K, Statement>;
  for (const name of Object.keys(sql) as K[]) {
    Object.defineProperty(out, name, { get: () => (prepared[name] ??= db.prepare(sql[name])), enumerable: true });
  }
  return out;
}
