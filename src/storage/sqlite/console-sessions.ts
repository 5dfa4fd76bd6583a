import type { Database } from "bun:sqlite";
import type { ConsoleSessionsOps } from "../console-sessions.ts";
import type { Sync } from "./store.ts";
import { lazyStatements } from "./statements.ts";

export function createConsoleSessions(db: Database): Sync<ConsoleSessionsOps> {
  const s = lazyStatements(db, {
    dropExpired: "DELETE FROM _console_sessions WHERE expires_at <= ?",
    insert: "INSERT INTO _console_sessions(token_hash, key_mark, created_at, expires_at) VALUES (?, ?, ?, ?)",
    find: "SELECT key_mark, expires_at FROM _console_sessions WHERE token_hash = ?",
    end: "DELETE FROM _console_sessions WHERE token_hash = ?",
    endAll: "DELETE FROM _console_sessions",
  });
  return {
    start(tokenHash, keyMark, nowMs, expiresAtMs) {
      db.transaction(() => {
        s.dropExpired.run(nowMs);
        s.insert.run(tokenHash, keyMark, nowMs, expiresAtMs);
      })();
    },
    find(tokenHash) {
      const row = s.find.get(tokenHash) as { key_mark: string; expires_at: number } | null;
      return row ? { keyMark: row.key_mark, expiresAtMs: row.expires_at } : null;
    },
    end: (tokenHash) => void s.end.run(tokenHash),
    endAll: () => void s.endAll.run(),
  };
}
