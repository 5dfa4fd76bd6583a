/** The project's admin and public keys (SPEC 7.4): only their SHA-256 is stored. */

export type KeyKind = "admin" | "public";

export interface KeysOps {
  /** Reconciles declared keys with stored ones at boot; returns keys generated now (to print once). */
  ensure(declared: { admin?: string; public?: string }, nowIso: string): Promise<{ admin?: string; public?: string }>;
  /**
   * Replaces keys (API or offline rotation); returns the new plaintext keys. With `seen` (the
   * stored hashes the caller read when it was authorized), a key that another rotation replaced
   * in between is not replaced again: the caller gets that rotation's key, so concurrent
   * rotations all answer with the one key that is stored. One atomic operation (the AdminGrant
   * rule depends on it): an engine runs the read and the write of every kind in one transaction.
   */
  rotate(kinds: readonly KeyKind[], nowIso: string, opts?: { seen?: Readonly<Record<KeyKind, string | null>> }): Promise<{ admin?: string; public?: string }>;
  /** The stored hash of a key (what `rotate`'s `seen` expects). */
  storedHash(kind: KeyKind): Promise<string | null>;
  /** Constant-time check of a presented key against the stored hash. */
  matches(kind: KeyKind, presented: string): Promise<boolean>;
}
