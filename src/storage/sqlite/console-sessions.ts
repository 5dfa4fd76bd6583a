import type { Database } from "bun:sqlite";
import type { ConsoleSessionsOps } from "../console-sessions.ts";
import type { Sync } from "./store.ts";
import { prepared } from "./prepared.ts";

export function createConsoleSessions(db: Database): Sync<ConsoleSessionsOps> {
  const s = {
    dropExpired: prepared(db, "DELETE FROM _console_sessions WHERE expires_at <= ?"),
    insert: prepared(db, "INSERT INTO _console_sessions(token_hash, key_mark, created_at, expires_at) VALUES (?, ?, ?, ?)"),
    find: prepared(db, "SELECT key_mark, expires_at FROM _console_sessions WHERE token_hash = ?"),
    end: prepared(db, "DELETE FROM _console_sessions WHERE token_hash = ?"),
    endAll: prepared(db, "DELETE FROM _console_sessions"),
  };
  return {
    start(tokenHash, keyMark, nowMs, expiresAtMs) {
      db.transaction(() => {
        s.dropExpired().run(nowMs);
        s.insert().run(tokenHash, keyMark, nowMs, expiresAtMs);
      })();
    },
    find(tokenHash) {
      const row = s.find().get(tokenHash) as { key_mark: string; expires_at: number } | null;
      return row ? { keyMark: row.key_mark, expiresAtMs: row.expires_at } : null;
    },
    end: (tokenHash) => void s.end().run(tokenHash),
    endAll: () => void s.endAll().run(),
  };
}
