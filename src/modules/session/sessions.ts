/**
 * Sessions: one per login (or signup). An access token carries its session id (`sid`); ending a
 * session revokes its refresh tokens and makes every access token with that `sid` refused. The
 * rows live behind `p.store.sessions` (src/storage/sessions.ts).
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { ClientMeta } from "../../http/client-meta.ts";
import { uuidV4 } from "../../crypto/random.ts";
import type { StoreOps } from "../../storage/store.ts";
import { ENDED_SESSION_RETENTION_MS } from "../../storage/sessions.ts";

export { ENDED_SESSION_RETENTION_MS };

/**
 * Creates a live session for `user` through `tx` and returns its id. A session opened while the
 * email is unverified is remembered as such (see sessions.revokeUnverified).
 */
export async function createSession(
  p: Pick<ProjectRuntime, "deps">,
  tx: Pick<StoreOps, "sessions">,
  user: { id: string; email_verified: boolean },
  nowMs: number,
  client: ClientMeta,
): Promise<string> {
  const id = uuidV4(p.deps.random);
  await tx.sessions.create({ id, userId: user.id, nowMs, ip: client.ip, userAgent: client.userAgent, unverified: !user.email_verified });
  return id;
}


/**
 * Deletes what can no longer authenticate anyone, so the tables do not grow forever:
 * refresh tokens past their expiry (refused either way, rotated or not), sessions ended more
 * than 30 days ago, and sessions with no usable refresh token left whose last access token
 * (issued at `last_used_at` at the latest) has expired. Returns how many rows went.
 */
export function pruneSessions(p: Pick<ProjectRuntime, "config" | "store">, nowMs: number): Promise<{ sessions: number; refreshTokens: number }> {
  const accessTtlMs = p.config.auth.accessTokenTtlSeconds * 1000;
  return p.store.sessions.prune(nowMs, { endedBeforeMs: nowMs - ENDED_SESSION_RETENTION_MS, idleBeforeMs: nowMs - accessTtlMs });
}
