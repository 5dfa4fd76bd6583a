/**
 * Storage of EdDSA / ES256 signing key pairs (SPEC 13). Every step of the schedule that writes is
 * one storage operation in one immediate transaction that re-reads what it decides on, so two
 * processes (or a restart in the middle) can never schedule two successors for one key.
 */
import type { Database } from "bun:sqlite";
import type { AsymmetricAlgorithm } from "../../crypto/jwt-asymmetric.ts";

import { signingKeyRing, type RotationPlan, type StoredSigningKey } from "../signing.ts";

export type { RotationPlan, StoredSigningKey } from "../signing.ts";

export interface SigningKeyStore {
  /** Every stored key of the project's algorithm, oldest first. */
  list(): StoredSigningKey[];
  /**
   * At boot: drops the keys of another algorithm (a switch in the project file is a clean change),
   * records the TTL in force for every key that may still sign, and makes sure a key signs.
   */
  setUpAtBoot(nowMs: number, ttlSeconds: number): void;
  /**
   * The scheduled step: deletes keys whose last token has expired and, when the newest key is due
   * for rotation, adds its successor, published now and signing `leadMs` from now at the earliest.
   * Returns true when it changed anything.
   */
  advance(nowMs: number, plan: RotationPlan): boolean;
  /** The emergency switch: every key is deleted and a new one signs at once. */
  replaceAll(nowMs: number, ttlSeconds: number): void;
}

interface Row {
  kid: string;
  private_enc: Uint8Array;
  created_at: number;
  signs_from: number;
  signs_until: number | null;
  ttl_max_s: number;
}

export function createSigningKeyStore(db: Database, opts: { sealKey: Uint8Array; projectId: string; alg: AsymmetricAlgorithm }): SigningKeyStore {
  const selectAll = db.query("SELECT kid, private_enc, created_at, signs_from, signs_until, ttl_max_s FROM _signing_keys WHERE alg = ? ORDER BY signs_from, created_at");
  const newest = db.query("SELECT kid, signs_from FROM _signing_keys WHERE alg = ? ORDER BY signs_from DESC LIMIT 1");
  const insert = db.query("INSERT INTO _signing_keys(kid, alg, private_enc, created_at, signs_from, signs_until, ttl_max_s) VALUES (?, ?, ?, ?, ?, NULL, ?)");
  const setUntil = db.query("UPDATE _signing_keys SET signs_until = ? WHERE kid = ?");
  const dropOtherAlgs = db.query("DELETE FROM _signing_keys WHERE alg <> ?");
  const dropExpired = db.query("DELETE FROM _signing_keys WHERE alg = ?1 AND signs_until IS NOT NULL AND signs_until + ttl_max_s * 1000 <= ?2");
  const dropAll = db.query("DELETE FROM _signing_keys");
  const raiseTtl = db.query("UPDATE _signing_keys SET ttl_max_s = max(ttl_max_s, ?2) WHERE alg = ?3 AND (signs_until IS NULL OR signs_until > ?1)");

  const ring = signingKeyRing(opts);
  const addKey = (nowMs: number, signsFromMs: number, ttlSeconds: number): string => {
    const { kid, sealed } = ring.generate();
    insert.run(kid, opts.alg, sealed, nowMs, signsFromMs, ttlSeconds);
    return kid;
  };

  return {
    list() {
      const rows = selectAll.all(opts.alg) as Row[];
      // Forget the opened keys that left the database (retired, or deleted by another process).
      ring.keepOnly(rows.map((r) => r.kid));
      return rows.map((row) => ({
        pair: ring.open(row.kid, row.private_enc),
        createdAtMs: row.created_at,
        signsFromMs: row.signs_from,
        signsUntilMs: row.signs_until,
        ttlMaxSeconds: row.ttl_max_s,
      }));
    },
    setUpAtBoot(nowMs, ttlSeconds) {
      db.transaction(() => {
        dropOtherAlgs.run(opts.alg);
        raiseTtl.run(nowMs, ttlSeconds, opts.alg);
        if (newest.get(opts.alg) === null) addKey(nowMs, nowMs, ttlSeconds);
      }).immediate();
    },
    advance(nowMs, plan) {
      return db.transaction((): boolean => {
        let changed = dropExpired.run(opts.alg, nowMs).changes > 0;
        const last = newest.get(opts.alg) as { kid: string; signs_from: number } | null;
        if (last === null) {
          addKey(nowMs, nowMs, plan.ttlSeconds);
          return true;
        }
        // A successor already waits to sign: nothing to schedule until it does.
        if (plan.rotateEveryMs === null || last.signs_from > nowMs) return changed;
        const dueAtMs = last.signs_from + plan.rotateEveryMs - plan.leadMs;
        if (nowMs < dueAtMs) return changed;
        // Published now, so it may sign only after every cached JWKS (and every token TTL) has
        // seen it: never before nowMs + leadMs, even when the server was down at the due time.
        const signsFromMs = Math.max(last.signs_from + plan.rotateEveryMs, nowMs + plan.leadMs);
        addKey(nowMs, signsFromMs, plan.ttlSeconds);
        setUntil.run(signsFromMs, last.kid);
        changed = true;
        return changed;
      }).immediate();
    },
    replaceAll(nowMs, ttlSeconds) {
      db.transaction(() => {
        dropAll.run();
        ring.clear();
        addKey(nowMs, nowMs, ttlSeconds);
      }).immediate();
    },
  };
}

/** What the token signer needs of the database at boot (src/projects/token-signer.ts). */
export interface SignerStorage {
  /** The key pairs of one algorithm, with their schedule. */
  signingKeys(alg: AsymmetricAlgorithm): SigningKeyStore;
  /** Deletes every stored key pair (a project switched back to HS256: none of them may verify again). */
  dropAllSigningKeys(): void;
  /** True once the project has ever opened a session: only then can tokens of an old algorithm exist. */
  anySessionExists(): boolean;
}

export function createSignerStorage(db: Database, opts: { sealKey: Uint8Array; projectId: string }): SignerStorage {
  return {
    signingKeys: (alg) => createSigningKeyStore(db, { ...opts, alg }),
    dropAllSigningKeys: () => void db.query("DELETE FROM _signing_keys").run(),
    anySessionExists: () => db.query("SELECT 1 FROM _sessions LIMIT 1").get() !== null,
  };
}
