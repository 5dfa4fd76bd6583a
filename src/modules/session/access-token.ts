import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { TokenClaims } from "../../crypto/jwt.ts";
import { customClaimsOf } from "./token-claims.ts";

/** What signing an access token reads: the project id and file, the issuer, the signer. */
export type AccessTokenDeps = Pick<ProjectRuntime, "config" | "id" | "issuer" | "signer">;

/** What an access token says about its user: a row of the auth table (custom columns as stored). */
export interface TokenSubject {
  readonly id: string;
  readonly email: string;
  readonly email_verified: boolean;
  readonly password_version: number;
  readonly [column: string]: unknown;
}

/**
 * Signs an access token (SPEC 7.1) for `user` in session `sessionId`, valid `access_token_ttl`,
 * with the project's `auth.token_claims` as they are now (SPEC 13: a change reaches new tokens).
 */
export function issueAccessToken(p: AccessTokenDeps, user: TokenSubject, sessionId: string, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const claims: TokenClaims = {
    sub: user.id,
    aud: p.id,
    iss: p.issuer,
    iat,
    exp: iat + p.config.auth.accessTokenTtlSeconds,
    sid: sessionId,
    pv: user.password_version,
    email: user.email,
    email_verified: user.email_verified,
  };
  return p.signer.sign(p.config.auth.tokenClaims.length === 0 ? claims : { ...claims, ...customClaimsOf(p, user) }, nowMs);
}

/** An access token as every response that issues one shows it (SPEC 5, RFC 6749 §5.1). */
export interface AccessGrant {
  readonly token: string;
  readonly token_type: "Bearer";
  /** Seconds until the token expires. */
  readonly expires_in: number;
}

/** Signs an access token and says how to use it and for how long. */
export function grantAccessToken(p: AccessTokenDeps, user: TokenSubject, sessionId: string, nowMs: number): AccessGrant {
  return { token: issueAccessToken(p, user, sessionId, nowMs), token_type: "Bearer", expires_in: p.config.auth.accessTokenTtlSeconds };
}
