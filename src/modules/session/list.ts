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

export async function listLiveSessions(p: Pick<ProjectRuntime, "store">, userId: string, nowMs: number): Promise<SessionView[]> {
  const rows = await p.store.sessions.listLive(userId, nowMs);
  return rows.map((r) => ({
    id: r.id,
    created_at: new Date(r.createdAtMs).toISOString(),
    last_used_at: new Date(r.lastUsedAtMs).toISOString(),
    expires_at: new Date(r.expiresAtMs).toISOString(),
    ip: r.ip,
    user_agent: r.userAgent,
  }));
}
