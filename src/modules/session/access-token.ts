import type { ProjectRuntime } from "../../projects/runtime.ts";
import { signJwt } from "../../crypto/jwt.ts";

/** What an access token says about its user. */
export interface TokenSubject {
  readonly id: string;
  readonly email: string;
  readonly email_verified: boolean;
  readonly password_version: number;
}

/** Signs an access token (SPEC 7.1) for `user` in session `sessionId`, valid `access_token_ttl`. */
export function issueAccessToken(p: ProjectRuntime, user: TokenSubject, sessionId: string, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  return signJwt(
    {
      sub: user.id,
      aud: p.id,
      iss: p.issuer,
      iat,
      exp: iat + p.config.auth.accessTokenTtlSeconds,
      sid: sessionId,
      pv: user.password_version,
      email: user.email,
      email_verified: user.email_verified,
    },
    p.jwt.current(),
  );
}
