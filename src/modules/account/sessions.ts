/** GET /auth/sessions and DELETE /auth/sessions/{sid} (SPEC 11). */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import type { Authenticated } from "../session/authenticate.ts";
import { listLiveSessions, type SessionView } from "../session/list.ts";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export async function mySessions(p: Pick<ProjectRuntime, "deps" | "store">, auth: Authenticated): Promise<(SessionView & { current: boolean })[]> {
  return (await listLiveSessions(p, auth.user.id, p.deps.now())).map((s) => ({ ...s, current: s.id === auth.sessionId }));
}

/**
 * Ends one of the caller's sessions (the current one too). Another user's session and an unknown
 * or already ended one answer the same 404, so session ids of others cannot be probed.
 */
export async function endMySession(p: Pick<ProjectRuntime, "deps" | "log" | "store">, auth: Authenticated, rawSid: string, client: ClientMeta): Promise<void> {
  if (!UUID_RE.test(rawSid)) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "sid", message: "The session id must be a UUID." });
  const sid = rawSid.toLowerCase();
  const nowMs = p.deps.now();
  const ended = await p.store.sessions.revokeOwned(sid, auth.user.id, nowMs, "user");
  if (!ended) throw new ApiError("NOT_FOUND", { message: "No such session of yours.", suggestion: "List your sessions with GET /auth/sessions." });
  p.log.event("session_revoked", { user_id: auth.user.id, session_id: sid, by: "user", ...eventFields(client) });
}
