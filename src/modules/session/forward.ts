/**
 * GET|HEAD /auth/forward (SPEC 13): the check a reverse proxy makes before letting a request
 * through (nginx `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth`). The token is checked
 * exactly as GET /auth/me checks it — signature, expiry, live session, password version — so a
 * logout or a revoked session is refused at once, unlike offline verification.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { authenticate } from "./authenticate.ts";
import { claimHeaderName, claimHeaderValue, customClaimsOf } from "./token-claims.ts";

export type ForwardAuthDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "issuer" | "signer" | "store">;

export interface ForwardOptions {
  /** `?verified=1`: an unverified user gets 403 AUTH_EMAIL_NOT_VERIFIED. */
  readonly requireVerified: boolean;
}

/** Reads `?verified=`: `1` / `true` turn the check on, `0` / `false` (or no parameter) leave it off. */
export function parseForwardOptions(query: Readonly<Record<string, string | undefined>>): ForwardOptions {
  const v = query.verified;
  if (v === undefined || v === "0" || v === "false") return { requireVerified: false };
  if (v === "1" || v === "true") return { requireVerified: true };
  throw new ApiError("VALIDATION_INVALID_FIELD", { field: "verified", message: "verified must be 1 or 0.", suggestion: "Use ?verified=1 to require a verified email." });
}

/**
 * The identity headers for the upstream app, or an ApiError: 401 (with `WWW-Authenticate`, as
 * RFC 6750 asks and proxies pass on) or 403 for an unverified email under `?verified=1`.
 * Header values come from the user row read by the check, so they are current, not as of the
 * token's issue.
 */
export async function forwardAuth(p: ForwardAuthDeps, request: Request, opts: ForwardOptions): Promise<Record<string, string>> {
  let auth;
  try {
    auth = await authenticate(p, request);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      throw new ApiError(e.code, {
        message: e.message,
        suggestion: e.suggestion,
        headers: { "www-authenticate": e.code === "AUTH_REQUIRED" ? "Bearer" : 'Bearer error="invalid_token"' },
      });
    }
    throw e;
  }
  const { user } = auth;
  if (opts.requireVerified && !user.email_verified) throw new ApiError("AUTH_EMAIL_NOT_VERIFIED");
  const headers: Record<string, string> = {
    "x-latchkey-user-id": user.id,
    "x-latchkey-email": user.email,
    "x-latchkey-email-verified": String(user.email_verified),
    "x-latchkey-session-id": auth.sessionId,
  };
  if (p.config.auth.tokenClaims.length > 0) {
    for (const [name, value] of Object.entries(customClaimsOf(p, user))) {
      const text = claimHeaderValue(value);
      if (text !== null) headers[claimHeaderName(name).toLowerCase()] = text;
    }
  }
  return headers;
}
