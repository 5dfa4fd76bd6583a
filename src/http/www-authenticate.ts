import type { ERROR_STATUS, ErrorCode } from "./errors.ts";

/** Every code whose status is 401: adding one without a challenge below fails the type check. */
type UnauthorizedCode = { [C in ErrorCode]: (typeof ERROR_STATUS)[C] extends 401 ? C : never }[ErrorCode];

/**
 * The `WWW-Authenticate` challenge of every 401 (SPEC 5, RFC 7235 / RFC 6750). User tokens are
 * `Bearer` with `error="invalid_token"` when a token was given. The admin key may also travel as
 * `Authorization: Bearer sk_...`, so its challenge is `Bearer` too, in realm "admin" so a client
 * can tell which credential is wanted. The public key has no standard scheme: `ApiKey` names the
 * header that carries it. A wrong password or refresh token is not a bad bearer token: plain `Bearer`.
 */
const CHALLENGES: Record<UnauthorizedCode, string> = {
  AUTH_REQUIRED: "Bearer",
  AUTH_TOKEN_EXPIRED: 'Bearer error="invalid_token", error_description="The access token expired"',
  AUTH_INVALID_TOKEN: 'Bearer error="invalid_token"',
  AUTH_INVALID_CREDENTIALS: "Bearer",
  AUTH_INVALID_REFRESH_TOKEN: "Bearer",
  ADMIN_KEY_REQUIRED: 'Bearer realm="admin"',
  ADMIN_KEY_INVALID: 'Bearer realm="admin", error="invalid_token"',
  PUBLIC_KEY_REQUIRED: 'ApiKey header="X-Public-Key"',
  PUBLIC_KEY_INVALID: 'ApiKey header="X-Public-Key", error="invalid_key"',
};

/** The challenge for a 401 error code. */
export function challengeFor(code: ErrorCode): string {
  return (CHALLENGES as Partial<Record<ErrorCode, string>>)[code] ?? "Bearer";
}
