/**
 * Refresh tokens (SPEC 7.2), stored only as digests. The `refreshTokens` operation group. The
 * engine never sees a clear token: the service passes digests and the successor it computed.
 */
import type { RateLimitResult } from "./rate-limits.ts";
import type { RateLimitRule } from "../config/types.ts";

export interface RotateRequest {
  /** SHA-256 hex of the presented token (key of the live row). */
  readonly hash: string;
  /** First 16 bytes of SHA-256 of the presented token (key of the compact record of a rotated one). */
  readonly rotatedTag: Uint8Array;
  /** The successor the service derived from the token, and its SHA-256 hex. */
  readonly successor: string;
  readonly successorHash: string;
  readonly nowMs: number;
  /** `refresh_reuse_grace`: a retry this soon after the rotation gets the same successor. */
  readonly graceMs: number;
  /** `refresh_token_ttl` and `session_max_age`, in ms. */
  readonly ttlMs: number;
  readonly sessionMaxAgeMs: number;
  /** `refresh_per_session`, counted under `refresh_per_session:<session id>`; null when off. */
  readonly perSession: RateLimitRule | null;
}

export type RotateResult =
  | { ok: true; refreshToken: string; sessionId: string; userId: string }
  | { ok: false; reuse: null; limited?: RateLimitResult }
  | { ok: false; reuse: { sessionId: string; userId: string } };

export interface RefreshTokensOps {
  /** Stores the first refresh token of a session (by its digest). */
  issue(args: { hash: string; sessionId: string; nowMs: number; expiresAtMs: number }): Promise<void>;
  /**
   * Rotates a token, as ONE atomic operation: the first use stores the successor (expiring at
   * min(now + ttl, session start + max age)) and touches the session; a retry within the grace
   * returns the same successor; a use after the grace ends the whole session (reuse); every use of
   * a live session's token counts against `perSession` first.
   */
  rotate(req: RotateRequest): Promise<RotateResult>;
}

/** The group's former name, kept while other branches still implement it under that name. */
export type RefreshTokens = RefreshTokensOps;
