import type { Database } from "bun:sqlite";
import { BUSY_TIMEOUT_MS } from "./open.ts";

const BUSY_CODE = /^SQLITE_(BUSY|LOCKED)/;

/**
 * True when another connection (another process: a backup, the sqlite3 shell, `keys rotate`)
 * holds this database's write lock right now. Never waits: the busy timeout is switched off for
 * the probe, so the event loop is not blocked while the lock is held elsewhere. Any other error
 * (read-only, disk full) is left to the statement that meets it.
 */
export function isWriteLockedElsewhere(db: Database): boolean {
  // db.query() caches the prepared statements: the probe costs four steps, no parsing.
  db.query("PRAGMA busy_timeout = 0").run();
  try {
    db.query("BEGIN IMMEDIATE").run();
    db.query("ROLLBACK").run();
    return false;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && BUSY_CODE.test(code);
  } finally {
    db.query(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`).run();
  }
}
