/** The project's admin and public keys (SPEC 7.4): only their SHA-256 is stored. */
import { constantTimeEqualHex, sha256Hex } from "../crypto/digest.ts";
import { randomToken, type RandomBytes } from "../crypto/random.ts";

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

/**
 * The stored hashes of both keys as one consistent pair (what `rotate`'s `seen` expects). A
 * rotation of both kinds commits them together; two separate reads on PostgreSQL could straddle it
 * (old admin hash, new public hash), so the admin hash is read again until it did not move.
 */
export async function readSeenHashes(keys: Pick<KeysOps, "storedHash">): Promise<Record<KeyKind, string | null>> {
  for (;;) {
    const admin = await keys.storedHash("admin");
    const pub = await keys.storedHash("public");
    if ((await keys.storedHash("admin")) === admin) return { admin, public: pub };
  }
}

const KEY_PREFIX: Record<KeyKind, string> = { admin: "sk_", public: "pk_" };

/** A new project key: prefix + 43 URL-safe chars (32 random bytes). */
export function generateKey(kind: KeyKind, random: RandomBytes): string {
  return KEY_PREFIX[kind] + randomToken(random, 32);
}

/** Constant-time check of a presented key against a stored hash read before (null: no key stored). */
export function keyMatchesHash(kind: KeyKind, presented: string, storedHash: string | null): boolean {
  // Compare even when no key is stored, so both paths cost the same.
  return constantTimeEqualHex(sha256Hex(presented), storedHash ?? "0".repeat(64)) && storedHash !== null && presented.startsWith(KEY_PREFIX[kind]);
}
