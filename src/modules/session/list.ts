/**
 * The live sessions of a user (SPEC 11, 12): not ended, and with a refresh token that can still be
 * used. `expires_at` is when its newest refresh token expires (sessions slide with each refresh).
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
}

export function listLiveSessions(p: ProjectRuntime, userId: string, nowMs: number): SessionView[] {
  const rows = p.db
    .query(
      `SELECT s.id, s.created_at, s.last_used_at, s.ip, s.user_agent, MAX(t.expires_at) AS expires_at
         FROM _sessions s JOIN _refresh_tokens t ON t.session_id = s.id AND t.revoked_at IS NULL
        WHERE s.user_id = ?1 AND s.revoked_at IS NULL
        GROUP BY s.id HAVING MAX(t.expires_at) > ?2
        ORDER BY s.created_at DESC, s.id DESC`,
    )
    .all(userId, nowMs) as { id: string; created_at: number; last_used_at: number; ip: string | null; user_agent: string | null; expires_at: number }[];
  return rows.map((r) => ({
    id: r.id,
    created_at: new Date(r.created_at).toISOString(),
    last_used_at: new Date(r.last_used_at).toISOString(),
    expires_at: new Date(r.expires_at).toISOString(),
    ip: r.ip,
    user_agent: r.user_agent,
  }));
}

/** The owner of a session that is not ended, or null. */
export function liveSessionOwner(p: ProjectRuntime, sessionId: string): string | null {
  const r = p.db.query("SELECT user_id FROM _sessions WHERE id = ? AND revoked_at IS NULL").get(sessionId) as { user_id: string } | null;
  return r ? r.user_id : null;
}
