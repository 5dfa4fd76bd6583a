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

async function keyMark(p: Pick<ProjectRuntime, "store">): Promise<string | null> {
  const hash = await p.store.keys.storedHash("admin");
  return hash === null ? null : sha256Hex(`console:${hash}`);
}

export function csrfTokenOf(p: Pick<ProjectRuntime, "deps" | "id">, token: string): string {
  return hmacSha256(deriveKey(p.deps.serverKey, `console-csrf:${p.id}`), token).toString("base64url");
}

/** Starts a session (the caller has checked the admin key) and returns the cookie's token. */
export async function startConsoleSession(p: Pick<ProjectRuntime, "deps" | "store">): Promise<{ token: string; expiresAt: number }> {
  const nowMs = p.deps.now();
  const token = randomToken(p.deps.random, SECRET_TOKEN_BYTES);
  const expiresAt = nowMs + CONSOLE_SESSION_MS;
  await p.store.consoleSessions.start(sha256Hex(token), (await keyMark(p)) ?? "", nowMs, expiresAt);
  return { token, expiresAt };
}

/** The live session of a cookie token, or null (unknown, expired, or the admin key changed since). */
export async function findConsoleSession(p: Pick<ProjectRuntime, "deps" | "id" | "store">, token: string | null): Promise<ConsoleSession | null> {
  if (!token || token.length > 100) return null;
  const tokenHash = sha256Hex(token);
  const row = await p.store.consoleSessions.find(tokenHash);
  if (!row || row.expiresAtMs <= p.deps.now()) return null;
  const mark = await keyMark(p);
  if (mark === null || !constantTimeEqualHex(mark, row.keyMark)) return null;
  return { tokenHash, csrf: csrfTokenOf(p, token), expiresAt: row.expiresAtMs };
}

export function endConsoleSession(p: Pick<ProjectRuntime, "store">, tokenHash: string): Promise<void> {
  return p.store.consoleSessions.end(tokenHash);
}

/** After an admin key rotation: the rows would no longer match anyway; this removes them. */
export function endAllConsoleSessions(p: Pick<ProjectRuntime, "store">): Promise<void> {
  return p.store.consoleSessions.endAll();
}

export function csrfMatches(expected: string, given: unknown): boolean {
  if (typeof given !== "string" || given.length !== expected.length) return false;
  return constantTimeEqualHex(Buffer.from(expected).toString("hex"), Buffer.from(given).toString("hex"));
}
