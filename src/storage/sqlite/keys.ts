import type { SettingsRepo } from "./settings.ts";
import { constantTimeEqualHex, sha256Hex } from "../../crypto/digest.ts";
import { randomToken, type RandomBytes } from "../../crypto/random.ts";

export type KeyKind = "admin" | "public";
const PREFIX: Record<KeyKind, string> = { admin: "sk_", public: "pk_" };

/** A new project key: prefix + 43 URL-safe chars (32 random bytes). */
export function generateKey(kind: KeyKind, random: RandomBytes): string {
  return PREFIX[kind] + randomToken(random, 32);
}

export interface ProjectKeys {
  /** Reconciles declared keys with stored ones at boot; returns keys generated now (to print once). */
  ensure(declared: { admin?: string; public?: string }, nowIso: string): { admin?: string; public?: string };
  /**
   * Replaces keys (API or offline rotation); returns the new plaintext keys. With `seen` (the
   * stored hashes the caller read when it was authorized), a key that another rotation replaced
   * in between is not replaced again: the caller gets that rotation's key, so concurrent
   * rotations all answer with the one key that is stored.
   */
  rotate(kinds: readonly KeyKind[], nowIso: string, opts?: { seen?: Readonly<Record<KeyKind, string | null>> }): { admin?: string; public?: string };
  /** The stored hash of a key (what `rotate`'s `seen` expects). */
  storedHash(kind: KeyKind): string | null;
  /** Constant-time check of a presented key against the stored hash. */
  matches(kind: KeyKind, presented: string): boolean;
}

/**
 * How long the last rotation's key is kept in memory to answer a rotation that raced with it
 * (authorized before it, arriving after it). Never stored anywhere.
 */
const COALESCE_MS = 10_000;

interface RecentRotation {
  readonly fromHash: string | null;
  readonly toHash: string;
  readonly key: string;
  readonly atMs: number;
}

export function createProjectKeys(settings: SettingsRepo, random: RandomBytes): ProjectKeys {
  const recent: Partial<Record<KeyKind, RecentRotation>> = {};
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
    rotate(kinds, nowIso, opts = {}) {
      const out: { admin?: string; public?: string } = {};
      const nowMs = Date.parse(nowIso);
      for (const kind of kinds) {
        const current = settings.get(`keys.${kind}`)?.value ?? null;
        const seen = opts.seen?.[kind];
        const last = recent[kind];
        if (seen !== undefined && seen !== current && last !== undefined && last.fromHash === seen
          && last.toHash === current && nowMs - last.atMs <= COALESCE_MS) {
          out[kind] = last.key;
          continue;
        }
        const key = generateKey(kind, random);
        const hash = sha256Hex(key);
        settings.setValue(`keys.${kind}`, hash, nowIso);
        recent[kind] = { fromHash: current, toHash: hash, key, atMs: nowMs };
        out[kind] = key;
      }
      return out;
    },
    storedHash(kind) {
      return settings.get(`keys.${kind}`)?.value ?? null;
    },
    matches(kind, presented) {
      const row = settings.get(`keys.${kind}`);
      const given = sha256Hex(presented);
      // Compare even when no key is stored, so both paths cost the same.
      return constantTimeEqualHex(given, row?.value ?? "0".repeat(64)) && row !== null && presented.startsWith(PREFIX[kind]);
    },
  };
}
