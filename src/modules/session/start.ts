import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { ClientMeta } from "../../http/client-meta.ts";
import type { StoreOps } from "../../storage/store.ts";
import { grantAccessToken, type AccessGrant, type TokenSubject } from "./access-token.ts";
import { issueRefreshToken } from "./refresh-tokens.ts";
import { createSession } from "./sessions.ts";

export interface SessionTokens extends AccessGrant {
  readonly refresh_token: string;
}

/**
 * Opens a session with its first refresh token, through the caller's transaction `tx`. The access
 * token is signed by `grantStartedSession` once the transaction has committed.
 */
export async function startSession(
  p: Pick<ProjectRuntime, "config" | "deps">,
  tx: Pick<StoreOps, "sessions" | "refreshTokens">,
  user: TokenSubject,
  nowMs: number,
  client: ClientMeta,
): Promise<{ sessionId: string; refreshToken: string }> {
  const sessionId = await createSession(p, tx, user, nowMs, client);
  const refreshToken = await issueRefreshToken(p, tx, sessionId, nowMs);
  return { sessionId, refreshToken };
}

/** The tokens of a session opened by startSession: a new access token and its first refresh token. */
export function grantStartedSession(p: Pick<ProjectRuntime, "config" | "id" | "issuer" | "signer">, user: TokenSubject, started: { sessionId: string; refreshToken: string }, nowMs: number): SessionTokens {
  return { ...grantAccessToken(p, user, started.sessionId, nowMs), refresh_token: started.refreshToken };
}
