/**
 * Console sessions: the admin key is exchanged once for a random token kept in an HttpOnly,
 * SameSite=Strict cookie. The database holds only the token's SHA-256 and a mark of the admin key
 * in force at sign-in: a rotated admin key (by any path) no longer matches, so its sessions end.
 * The CSRF token is an HMAC of the session token under a server-key-derived secret (a synchronizer
 * token tied to the session, nothing more to store).
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { constantTimeEqualHex, deriveKey, hmacSha256, sha256Hex } from "../../crypto/digest.ts";
import { randomToken, SECRET_TOKEN_BYTES } from "../../crypto/random.ts";

export const CONSOLE_SESSION_MS = 8 * 3600 * 1000;
export const COOKIE_NAME = "lk_console";

export interface ConsoleSession {
  readonly tokenHash: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

function keyMark(p: ProjectRuntime): string | null {
  const row = p.settings.get("keys.admin");
  return row ? sha256Hex(`console:${row.value}`) : null;
}

export function csrfTokenOf(p: ProjectRuntime, token: string): string {
  return hmacSha256(deriveKey(p.deps.serverKey, `console-csrf:${p.id}`), token).toString("base64url");
}

/** Starts a session (the caller has checked the admin key) and returns the cookie's token. */
export function startConsoleSession(p: ProjectRuntime): { token: string; expiresAt: number } {
  const nowMs = p.deps.now();
  const token = randomToken(p.deps.random, SECRET_TOKEN_BYTES);
  const expiresAt = nowMs + CONSOLE_SESSION_MS;
  p.db.transaction(() => {
    p.db.query("DELETE FROM _console_sessions WHERE expires_at <= ?").run(nowMs);
    p.db.query("INSERT INTO _console_sessions(token_hash, key_mark, created_at, expires_at) VALUES (?, ?, ?, ?)").run(sha256Hex(token), keyMark(p) ?? "", nowMs, expiresAt);
  })();
  return { token, expiresAt };
}

/** The live session of a cookie token, or null (unknown, expired, or the admin key changed since). */
export function findConsoleSession(p: ProjectRuntime, token: string | null): ConsoleSession | null {
  if (!token || token.length > 100) return null;
  const tokenHash = sha256Hex(token);
  const row = p.db.query("SELECT key_mark, expires_at FROM _console_sessions WHERE token_hash = ?").get(tokenHash) as { key_mark: string; expires_at: number } | null;
  if (!row || row.expires_at <= p.deps.now()) return null;
  const mark = keyMark(p);
  if (mark === null || !constantTimeEqualHex(mark, row.key_mark)) return null;
  return { tokenHash, csrf: csrfTokenOf(p, token), expiresAt: row.expires_at };
}

export function endConsoleSession(p: ProjectRuntime, tokenHash: string): void {
  p.db.query("DELETE FROM _console_sessions WHERE token_hash = ?").run(tokenHash);
}

/** After an admin key rotation: the rows would no longer match anyway; this removes them. */
export function endAllConsoleSessions(p: ProjectRuntime): void {
  p.db.query("DELETE FROM _console_sessions").run();
}

export function csrfMatches(expected: string, given: unknown): boolean {
  if (typeof given !== "string" || given.length !== expected.length) return false;
  return constantTimeEqualHex(Buffer.from(expected).toString("hex"), Buffer.from(given).toString("hex"));
}
