/**
 * What both engines share about access-token signing (SPEC 13): a stored key pair with its
 * schedule, the schedule's parameters, and the rule a boot applies when the file changes the
 * algorithm. The stores are src/storage/sqlite/signing-keys.ts and src/storage/postgres/signing-keys.ts;
 * the signer over them is src/projects/token-signer.ts.
 */
import { JWKS_MAX_AGE_SECONDS } from "../config/signing-config.ts";
import type { SigningAlgorithm } from "../config/types.ts";
import type { SigningKeyPair } from "../crypto/jwt-asymmetric.ts";

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
