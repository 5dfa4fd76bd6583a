/**
 * Sessions (SPEC 7): one per login or signup, ended by logout, a ban, a password change or reset,
 * reuse of a rotated refresh token. Ending a session also revokes its refresh tokens, in the same
 * operation. The `sessions` operation group.
 */

/** Ended sessions are kept this long for audit before housekeeping deletes them. */
export const ENDED_SESSION_RETENTION_MS = 30 * 86_400_000;

export interface NewSession {
  readonly id: string;
  readonly userId: string;
  readonly nowMs: number;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** Opened while the user's email was unverified (see revokeUnverified). */
  readonly unverified: boolean;
}

/** A live session as listed to its user or an admin (times in ms since the epoch). */
export interface LiveSessionRow {
  readonly id: string;
  readonly createdAtMs: number;
  readonly lastUsedAtMs: number;
  /** When its newest refresh token expires. */
  readonly expiresAtMs: number;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface SessionsOps {
  create(session: NewSession): Promise<void>;
  /** Ends one session and its refresh tokens; false when it was already ended (or unknown). */
  revoke(sessionId: string, nowMs: number, reason: string): Promise<boolean>;
  /** Like revoke, but only when the session is live and belongs to `userId`. */
  revokeOwned(sessionId: string, userId: string, nowMs: number, reason: string): Promise<boolean>;
  /** Ends every session of a user (but `exceptSessionId`) and their refresh tokens; returns how many ended. */
  revokeUser(userId: string, nowMs: number, opts: { exceptSessionId?: string; reason: string }): Promise<number>;
  /** Ends every session of the user opened while the email was unverified, and their refresh tokens. */
  revokeUnverified(userId: string, nowMs: number, reason: string): Promise<void>;
  /** Records a use of the session (its last access token was issued now). */
  touch(sessionId: string, nowMs: number): Promise<void>;
  /** The user's sessions that are not ended and still have a usable refresh token, newest first. */
  listLive(userId: string, nowMs: number): Promise<LiveSessionRow[]>;
  /** The owner of a session that is not ended, or null. */
  liveOwner(sessionId: string): Promise<string | null>;
  /**
   * Deletes what can no longer authenticate anyone: refresh tokens past expiry, sessions ended
   * before `endedBeforeMs`, live sessions unused since `idleBeforeMs` with no usable refresh token.
   */
  prune(nowMs: number, opts: { endedBeforeMs: number; idleBeforeMs: number }): Promise<{ sessions: number; refreshTokens: number }>;
}

/** The group's former name, kept while other branches still implement it under that name. */
export type Sessions = SessionsOps;
