import type { SettingsRepo } from "./settings.ts";
import { constantTimeEqualHex, sha256Hex } from "../crypto/digest.ts";
import { randomToken, type RandomBytes } from "../crypto/random.ts";

export type KeyKind = "admin" | "public";
const PREFIX: Record<KeyKind, string> = { admin: "sk_", public: "pk_" };

/** A new project key: prefix + 43 URL-safe chars (32 random bytes). */
export function generateKey(kind: KeyKind, random: RandomBytes): string {
  return PREFIX[kind] + randomToken(random, 32);
}

export interface ProjectKeys {
  /** Reconciles declared keys with stored ones at boot; returns keys generated now (to print once). */
  ensure(declared: { admin?: string; public?: string }, nowIso: string): { admin?: string; public?: string };
  /** Replaces keys (API or offline rotation); returns the new plaintext keys. */
  rotate(kinds: readonly KeyKind[], nowIso: string): { admin?: string; public?: string };
  /** Constant-time check of a presented key against the stored hash. */
  matches(kind: KeyKind, presented: string): boolean;
}

export function createProjectKeys(settings: SettingsRepo, random: RandomBytes): ProjectKeys {
  return {
    ensure(declared, nowIso) {
      const generated: { admin?: string; public?: string } = {};
      for (const kind of ["admin", "public"] as const) {
        const d = declared[kind];
        settings.reconcile(`keys.${kind}`, d === undefined ? null : sha256Hex(d), () => {
          const key = generateKey(kind, random);
          generated[kind] = key;
          return sha256Hex(key);
        }, nowIso);
      }
      return generated;
    },
    rotate(kinds, nowIso) {
      const out: { admin?: string; public?: string } = {};
      for (const kind of kinds) {
        const key = generateKey(kind, random);
        settings.setValue(`keys.${kind}`, sha256Hex(key), nowIso);
        out[kind] = key;
      }
      return out;
    },
    matches(kind, presented) {
      const row = settings.get(`keys.${kind}`);
      const given = sha256Hex(presented);
      // Compare even when no key is stored, so both paths cost the same.
      return constantTimeEqualHex(given, row?.value ?? "0".repeat(64)) && row !== null && presented.startsWith(PREFIX[kind]);
    },
  };
}
