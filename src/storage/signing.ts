/**
 * What both engines share about access-token signing (SPEC 13): a stored key pair with its
 * schedule, the schedule's parameters, and the rule a boot applies when the file changes the
 * algorithm. The stores are src/storage/sqlite/signing-keys.ts and src/storage/postgres/signing-keys.ts;
 * the signer over them is src/projects/token-signer.ts.
 */
import { JWKS_MAX_AGE_SECONDS } from "../config/signing-config.ts";
import type { SigningAlgorithm } from "../config/types.ts";
import { generateSigningKey, importSigningKey, type AsymmetricAlgorithm, type SigningKeyPair } from "../crypto/jwt-asymmetric.ts";
import { seal, unseal } from "../crypto/seal.ts";
import { DbOpenError } from "./open-error.ts";

/** One stored key with its schedule (unix ms). */
export interface StoredSigningKey {
  readonly pair: SigningKeyPair;
  readonly createdAtMs: number;
  readonly signsFromMs: number;
  /** When its successor starts signing; null while it is the newest key. */
  readonly signsUntilMs: number | null;
  /** Longest access-token TTL in force while it could sign: its tokens live at most this long. */
  readonly ttlMaxSeconds: number;
}

/** The schedule parameters of SPEC 13, in ms. */
export interface RotationPlan {
  readonly rotateEveryMs: number | null;
  /** How long before it signs a new key is published: access_token_ttl + the JWKS cache time. */
  readonly leadMs: number;
  readonly ttlSeconds: number;
}

/** The schedule of SPEC 13 for a project's file. */
export function rotationPlanOf(opts: { readonly rotateEverySeconds: number | null; readonly accessTokenTtlSeconds: number }): RotationPlan {
  return {
    rotateEveryMs: opts.rotateEverySeconds === null ? null : opts.rotateEverySeconds * 1000,
    leadMs: (opts.accessTokenTtlSeconds + JWKS_MAX_AGE_SECONDS) * 1000,
    ttlSeconds: opts.accessTokenTtlSeconds,
  };
}

/** The setting that records the algorithm in force, on every engine. */
export const SIGNING_ALGORITHM_SETTING = "signing.algorithm";

/**
 * What a boot decides about the algorithm, on every engine: `switched` when the file names another
 * algorithm than the one recorded (a project from before the setting existed signed with HS256);
 * `record` when the setting must be written. A switch retires everything the old algorithm could
 * verify (the engine rotates the HS256 secret and, switching to HS256, deletes the key pairs), so
 * its outstanding tokens are refused and a later switch back cannot bring them to life again.
 */
export function signingAlgorithmChange(recorded: string | null, algorithm: SigningAlgorithm): { readonly previous: string; readonly switched: boolean; readonly record: boolean } {
  const previous = recorded ?? "HS256";
  return { previous, switched: previous !== algorithm, record: recorded !== algorithm };
}

/**
 * A project's key pairs as both engines store them: the PKCS#8 private key sealed with AES-256-GCM
 * under a server-key subkey and bound to the project and the kid. Unsealing and importing a key costs
 * tens of microseconds, so an opened pair is kept for the process until its row is gone.
 */
export interface SigningKeyRing {
  /** The pair of a stored row; a DbOpenError when this server key cannot open it. */
  open(kid: string, sealed: Uint8Array): SigningKeyPair;
  /** A new pair (kept as opened) and its sealed private key, to be stored under `kid`. */
  generate(): { kid: string; sealed: Uint8Array };
  /** Forgets the opened pairs whose kid is not among the rows just read (retired, or deleted by another process). */
  keepOnly(kids: readonly string[]): void;
  /** Forgets every opened pair (all rows deleted). */
  clear(): void;
}

export function signingKeyRing(opts: { sealKey: Uint8Array; projectId: string; alg: AsymmetricAlgorithm }): SigningKeyRing {
  const aad = (kid: string): string => `signing-key:${opts.projectId}:${kid}`;
  const pairs = new Map<string, SigningKeyPair>();
  return {
    open(kid, sealed) {
      let pair = pairs.get(kid);
      if (pair) return pair;
      try {
        pair = importSigningKey(opts.alg, unseal(opts.sealKey, sealed, aad(kid)));
      } catch {
        throw new DbOpenError(
          `project ${opts.projectId}: its ${opts.alg} signing key cannot be opened with this server key (was server.key or LATCHKEY_SERVER_KEY changed?)`,
        );
      }
      if (pair.kid !== kid) throw new DbOpenError(`project ${opts.projectId}: signing key ${kid} does not match its kid`);
      pairs.set(kid, pair);
      return pair;
    },
    generate() {
      const { pair, pkcs8 } = generateSigningKey(opts.alg);
      pairs.set(pair.kid, pair);
      return { kid: pair.kid, sealed: seal(opts.sealKey, pkcs8, aad(pair.kid)) };
    },
    keepOnly(kids) {
      for (const kid of [...pairs.keys()]) if (!kids.includes(kid)) pairs.delete(kid);
    },
    clear: () => pairs.clear(),
  };
}
