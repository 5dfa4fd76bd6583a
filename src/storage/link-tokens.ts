/** One-time link tokens (SPEC 7.3), stored as an id and a digest: the `linkTokens` operation group. */

export type LinkTokenKind = "reset" | "verify";

export interface LinkTokenRow {
  readonly id: string;
  readonly userId: string;
  /** The address the link was sent to. */
  readonly email: string;
}

export interface PendingEmailChange {
  readonly userId: string;
  readonly oldEmail: string;
  readonly newEmail: string;
  readonly newCanonical: string;
}

export interface LinkTokensOps {
  issue(row: { id: string; hash: string; kind: LinkTokenKind; userId: string; email: string; nowMs: number; expiresAtMs: number }): Promise<void>;
  /** Marks a live token (unused, unrevoked, unexpired) used, in one conditional step: of concurrent uses exactly one gets the row. */
  consume(kind: LinkTokenKind, hash: string, nowMs: number): Promise<LinkTokenRow | null>;
  /** A token of `kind` that was already used (not revoked, not expired). A read only. */
  findUsed(kind: LinkTokenKind, hash: string, nowMs: number): Promise<LinkTokenRow | null>;
  /** Whether the token with this digest is live. A read only. */
  isLiveByHash(kind: LinkTokenKind, hash: string, nowMs: number): Promise<boolean>;
  /** Whether the token with this id is live (the sender skips dead links). */
  isLive(id: string, nowMs: number): Promise<boolean>;
  /**
   * Revokes the user's live tokens of `kind`, except `exceptId` and pending email-change
   * confirmations. Returns how many.
   */
  revoke(args: { kind: LinkTokenKind; userId: string; nowMs: number; exceptId?: string }): Promise<number>;
  /** Records the email change a `verify` token confirms, revoking the user's older pending changes first. */
  addEmailChange(change: PendingEmailChange & { tokenId: string; nowMs: number }): Promise<void>;
  /** The change a token confirms, or null for a plain verification link. */
  emailChangeOf(tokenId: string): Promise<PendingEmailChange | null>;
  /** After a confirmed change: revokes every reset link and every other pending change of the user. */
  revokeAfterEmailChange(userId: string, nowMs: number): Promise<void>;
  /** Deletes rows that expired before `beforeMs`. */
  prune(beforeMs: number): Promise<number>;
}

/** The group's former name, kept while other branches still implement it under that name. */
export type LinkTokens = LinkTokensOps;
