/**
 * The auth table's rows (its shape comes from the project file) and the per-user state beside
 * them (bans, last login): the `users` operation group.
 */

/** A stored column value (what every engine can bind). */
export type SqlValue = string | number | null;

/** One row of the auth table: built-in columns decoded, custom columns as stored. */
export interface UserRow {
  id: string;
  email: string;
  email_verified: boolean;
  password_hash: string;
  password_version: number;
  created_at: string;
  updated_at: string;
  [col: string]: unknown;
}

/**
 * A row of the auth table as both engines store it -> UserRow: `email_verified` 0/1 decoded, the
 * internal `_password_version` renamed and `_email_canonical` dropped; custom columns as stored.
 */
export function userFromStoredRow(raw: Record<string, unknown>): UserRow {
  const row: UserRow = {
    ...raw,
    id: raw.id as string,
    email: raw.email as string,
    email_verified: raw.email_verified === 1,
    password_hash: raw.password_hash as string,
    password_version: raw._password_version as number,
    created_at: raw.created_at as string,
    updated_at: raw.updated_at as string,
  };
  delete row._password_version;
  delete row._email_canonical;
  return row;
}

export interface UserStatus {
  readonly bannedAt: number | null;
  readonly bannedUntil: number | null;
  readonly banReason: string | null;
  readonly lastLoginAt: number | null;
}

/** Why a user could not be deleted: a `restrict` reference still points at it (`table` when known). */
export type DeleteResult = { ok: true } | { ok: false; restrictedBy: string | null };

export interface UsersOps {
  findByCanonicalEmail(canonical: string): Promise<UserRow | null>;
  findById(id: string): Promise<UserRow | null>;
  /**
   * The user of a live session, in one read: null when the session is ended or unknown, or not
   * `userId`'s. The hot path of every authenticated request.
   */
  findBySession(sessionId: string, userId: string): Promise<UserRow | null>;
  /**
   * Inserts a user (column -> stored value). A value the table refuses (a duplicate canonical email
   * or unique column, a missing required value, a bad reference or value) is thrown as
   * StoreConstraintError (src/storage/errors.ts), the same from every engine.
   */
  insert(values: Readonly<Record<string, SqlValue>>): Promise<UserRow>;
  /**
   * Updates columns of the auth table (and updated_at); null when the user no longer exists. A
   * refused value is thrown as StoreConstraintError, as by insert.
   */
  update(id: string, values: Readonly<Record<string, SqlValue>>, nowIso: string): Promise<UserRow | null>;
  /** Sets a new hash and bumps the password version; returns the new version (0: no such user). */
  setPassword(id: string, hash: string, nowIso: string): Promise<number>;
  /** Like setPassword, only while the version is still `expectedVersion`; the new version or null. */
  setPasswordIfVersion(id: string, hash: string, expectedVersion: number, nowIso: string): Promise<number | null>;
  /** Replaces a hash by an upgraded hash of the same password, only while it is still `oldHash`. */
  replaceHash(id: string, oldHash: string, newHash: string): Promise<boolean>;
  markEmailVerified(id: string, nowIso: string): Promise<void>;
  /**
   * Switches the address (verified) and bumps the password version. "taken" when another account
   * holds the canonical address (the unique index decides).
   */
  changeEmail(id: string, email: string, canonical: string, nowIso: string): Promise<"ok" | "taken">;
  /** True when `id` is a row of the declared table `table` (a ref target). */
  refExists(table: string, id: string): Promise<boolean>;
  /** The named custom columns of a user, as stored (template variables); null when no such user. */
  readColumns(id: string, columns: readonly string[]): Promise<Record<string, unknown> | null>;
  /**
   * Deletes a user and what is theirs: sessions, refresh and link tokens, pending email changes,
   * status. Rows of declared tables follow their `on_delete`; a `restrict` reference refuses.
   */
  remove(id: string): Promise<DeleteResult>;
  status(id: string): Promise<UserStatus>;
  setBan(id: string, ban: { nowMs: number; untilMs: number | null; reason: string | null }): Promise<void>;
  clearBan(id: string): Promise<void>;
  recordLogin(id: string, nowMs: number): Promise<void>;
}

/** The group's former name, kept while other branches still implement it under that name. */
export type Users = UsersOps;
