import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { ClientMeta } from "../../http/client-meta.ts";
import { grantAccessToken, type AccessGrant, type TokenSubject } from "./access-token.ts";
import { issueRefreshToken } from "./refresh-tokens.ts";
import { createSession } from "./sessions.ts";

export interface SessionTokens extends AccessGrant {
  readonly refresh_token: string;
}

/** Opens a session with its first refresh token and an access token. Synchronous: call inside a transaction. */
export function startSession(
  p: ProjectRuntime,
  user: TokenSubject,
  nowMs: number,
  client: ClientMeta,
): { sessionId: string; tokens: SessionTokens } {
  const sessionId = createSession(p, user, nowMs, client);
  const refreshToken = issueRefreshToken(p, sessionId, nowMs);
  return { sessionId, tokens: { ...grantAccessToken(p, user, sessionId, nowMs), refresh_token: refreshToken } };
}
