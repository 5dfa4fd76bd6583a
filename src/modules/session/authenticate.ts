/**
 * The access-token check of every authenticated request (SPEC 7.1). Kept lean on purpose — it is
 * the hot path of GET /auth/me and /auth/forward: one signature verification and one store
 * operation that reads the live session and its user together. No transaction, no write.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { AccessClaims } from "../../crypto/jwt.ts";
import { ApiError } from "../../http/errors.ts";
import { bearerToken } from "../../http/respond.ts";
import type { UserRow } from "../../users/model.ts";

export interface Authenticated {
  readonly user: UserRow;
  readonly sessionId: string;
  readonly claims: AccessClaims;
}

/**
 * Checks `Authorization: Bearer <access token>`: the configured algorithm only, signature,
 * `aud`, `iss`, `exp` (AUTH_TOKEN_EXPIRED), then a live session, an existing user and the
 * current password version (AUTH_INVALID_TOKEN for every other failure).
 */
export async function authenticate(p: Pick<ProjectRuntime, "id" | "issuer" | "signer" | "deps" | "store">, request: Request): Promise<Authenticated> {
  const token = bearerToken(request.headers.get("authorization"));
  if (token === null) throw new ApiError("AUTH_REQUIRED");
  const nowMs = p.deps.now();
  const v = p.signer.verify(token, { aud: p.id, iss: p.issuer, nowMs });
  if (!v.ok) throw new ApiError(v.reason === "expired" ? "AUTH_TOKEN_EXPIRED" : "AUTH_INVALID_TOKEN");
  const user = await p.store.users.findBySession(v.claims.sid, v.claims.sub);
  if (user === null || user.password_version !== v.claims.pv) throw new ApiError("AUTH_INVALID_TOKEN");
  return { user, sessionId: v.claims.sid, claims: v.claims };
}
