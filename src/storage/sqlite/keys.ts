import type { Database } from "bun:sqlite";
import type { SettingsRepo } from "./settings.ts";
import { generateKey, keyMatchesHash, type KeyKind, type KeysOps } from "../keys.ts";
import type { Sync } from "./store.ts";
import { sha256Hex } from "../../crypto/digest.ts";
import type { RandomBytes } from "../../crypto/random.ts";

export type { KeyKind } from "../keys.ts";

/** The SQLite keys group: kept in `_settings` (`keys.admin`, `keys.public`). */
export type ProjectKeys = Sync<KeysOps>;

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

export function createProjectKeys(db: Database, settings: SettingsRepo, random: RandomBytes): ProjectKeys {
  const recent: Partial<Record<KeyKind, RecentRotation>> = {};
  const rotate: ProjectKeys["rotate"] = (kinds, nowIso, opts = {}) => {
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
  };
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
    // Read and write of every kind in one immediate transaction (a savepoint inside a caller's).
    rotate: (kinds, nowIso, opts) => db.transaction(() => rotate(kinds, nowIso, opts)).immediate(),
    storedHash(kind) {
      return settings.get(`keys.${kind}`)?.value ?? null;
    },
    matches: (kind, presented) => keyMatchesHash(kind, presented, settings.get(`keys.${kind}`)?.value ?? null),
  };
}
