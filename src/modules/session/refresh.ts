import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { rateLimitedError } from "../../http/rate-limit.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { grantAccessToken } from "./access-token.ts";
import { rotateRefreshToken } from "./refresh-tokens.ts";
import type { SessionTokens } from "./start.ts";

export type RefreshDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "issuer" | "log" | "secrets" | "signer" | "store">;

const REFRESH_FIELDS = new Set(["refresh_token"]);

export function parseRefreshInput(body: JsonObject): string {
  refuseUnknownFields(body, REFRESH_FIELDS, null);
  const token = body.refresh_token;
  if (token === undefined || token === "") {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "refresh_token", message: '"refresh_token" is required.' });
  }
  if (typeof token !== "string") {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field: "refresh_token", message: '"refresh_token" must be a string.' });
  }
  return token;
}

/** POST /auth/refresh (SPEC 7.2): rotates the token and signs a new access token for its session. */
export async function refreshSession(p: RefreshDeps, token: string, client: ClientMeta): Promise<SessionTokens> {
  const nowMs = p.deps.now();
  const r = await rotateRefreshToken(p, token, nowMs);
  if (!r.ok) {
    if (r.reuse) p.log.event("refresh_reuse", { user_id: r.reuse.userId, session_id: r.reuse.sessionId, ...eventFields(client) });
    if (r.reuse === null && r.limited) throw rateLimitedError(r.limited);
    throw new ApiError("AUTH_INVALID_REFRESH_TOKEN");
  }
  const user = await p.store.users.findById(r.userId);
  if (!user) throw new ApiError("AUTH_INVALID_REFRESH_TOKEN");
  return { ...grantAccessToken(p, user, r.sessionId, nowMs), refresh_token: r.refreshToken };
}
