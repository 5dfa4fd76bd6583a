/**
 * Signs and verifies a project's access tokens with the algorithm of its file (SPEC 7.1, 13), and
 * runs the key schedule of SPEC 13 on the server clock — no timer, no cron: every sign, verify and
 * JWKS read compares the clock with the next moment the schedule changes, and only then touches
 * the database. The schedule lives in the database, so a restart resumes it where it was.
 */
import type { SigningAlgorithm } from "../config/types.ts";
import { JWKS_MAX_AGE_SECONDS } from "../config/signing-config.ts";
import { signJwt, verifyJwt, type JwtVerifyResult, type TokenClaims } from "../crypto/jwt.ts";
import { signJwtWith, verifyJwtWith, type AsymmetricAlgorithm, type PublicJwk, type SigningKeyPair } from "../crypto/jwt-asymmetric.ts";
import type { JwtSecrets } from "../storage/sqlite/jwt-secrets.ts";
import type { SettingsRepo } from "../storage/sqlite/settings.ts";
import type { RotationPlan, SignerStorage, SigningKeyStore, StoredSigningKey } from "../storage/sqlite/signing-keys.ts";

export interface TokenExpectation {
  readonly aud: string;
  readonly iss: string;
  readonly nowMs: number;
}

export interface TokenSigner {
  readonly algorithm: SigningAlgorithm;
  sign(claims: TokenClaims, nowMs: number): string;
  verify(token: string, expect: TokenExpectation): JwtVerifyResult;
  /** The public keys that verify tokens now or soon (SPEC 13 JWKS); empty for HS256. */
  publicKeys(nowMs: number): PublicJwk[];
  /** The emergency switch: every token signed so far is refused from now on (PostgreSQL: once the promise resolves). */
  rotateNow(nowMs: number): void | Promise<void>;
}

const ALGORITHM_SETTING = "signing.algorithm";

/**
 * Builds the signer. A change of algorithm since the last boot retires everything the old one
 * could verify (the HS256 secret is replaced, stored key pairs deleted), so its outstanding tokens
 * are refused and a later switch back cannot bring them to life again. `switchedFrom` names the
 * old algorithm when its tokens may be out there. Call inside the boot transaction.
 */
export function createTokenSigner(
  storage: SignerStorage,
  opts: {
    readonly algorithm: SigningAlgorithm;
    readonly rotateEverySeconds: number | null;
    readonly accessTokenTtlSeconds: number;
    readonly secrets: JwtSecrets;
    readonly settings: SettingsRepo;
    readonly nowMs: number;
  },
): { signer: TokenSigner; switchedFrom: string | null } {
  const nowIso = new Date(opts.nowMs).toISOString();
  const recorded = opts.settings.get(ALGORITHM_SETTING)?.value ?? null;
  // A project from before this setting existed signed with HS256.
  const previous = recorded ?? "HS256";
  const switched = previous !== opts.algorithm;
  if (switched) {
    opts.secrets.rotate(nowIso);
    if (opts.algorithm === "HS256") storage.dropAllSigningKeys();
  }
  if (recorded !== opts.algorithm) opts.settings.setValue(ALGORITHM_SETTING, opts.algorithm, nowIso);
  // Reported only when tokens of the old algorithm may exist (not at a new project's first boot).
  const hadTokens = switched && (recorded !== null || storage.anySessionExists());
  const signer = opts.algorithm === "HS256"
    ? hs256Signer(opts.secrets)
    : asymmetricSigner(
      storage.signingKeys(opts.algorithm),
      {
        alg: opts.algorithm,
        rotateEveryMs: opts.rotateEverySeconds === null ? null : opts.rotateEverySeconds * 1000,
        leadMs: (opts.accessTokenTtlSeconds + JWKS_MAX_AGE_SECONDS) * 1000,
        ttlSeconds: opts.accessTokenTtlSeconds,
      },
      opts.nowMs,
    );
  return { signer, switchedFrom: hadTokens ? previous : null };
}

function hs256Signer(secrets: JwtSecrets): TokenSigner {
  return {
    algorithm: "HS256",
    sign: (claims) => signJwt(claims, secrets.current()),
    verify: (token, expect) => verifyJwt(token, secrets.current(), expect),
    publicKeys: () => [],
    rotateNow: (nowMs) => secrets.rotate(new Date(nowMs).toISOString()),
  };
}

/** What the keys allow at one moment, and when that changes next. */
interface KeyView {
  readonly signing: SigningKeyPair;
  readonly verifying: ReadonlyMap<string, SigningKeyPair>;
  readonly published: readonly PublicJwk[];
  readonly nextChangeMs: number;
}

/** End of a key's publication: when the last token it signed expires (never, while it signs). */
function lastTokenExpiryMs(k: StoredSigningKey): number {
  return k.signsUntilMs === null ? Infinity : k.signsUntilMs + k.ttlMaxSeconds * 1000;
}

/** Pure: the keys of SPEC 13 at `nowMs` (keys sorted by signsFromMs). */
export function viewKeys(keys: readonly StoredSigningKey[], nowMs: number, plan: RotationPlan): KeyView {
  let signing: StoredSigningKey | undefined;
  const verifying = new Map<string, SigningKeyPair>();
  const published: PublicJwk[] = [];
  let nextChangeMs = Infinity;
  for (const k of keys) {
    const endMs = lastTokenExpiryMs(k);
    if (endMs <= nowMs) continue;
    nextChangeMs = Math.min(nextChangeMs, endMs);
    published.push(k.pair.jwk);
    if (k.signsFromMs <= nowMs) {
      signing = k;
      verifying.set(k.pair.headerB64, k.pair);
    } else {
      nextChangeMs = Math.min(nextChangeMs, k.signsFromMs);
    }
  }
  // Only reachable if every stored key were still waiting to sign; then the earliest one signs.
  signing ??= keys[0];
  if (signing === undefined) throw new Error("no signing key");
  const newest = keys[keys.length - 1];
  if (plan.rotateEveryMs !== null && newest.signsFromMs <= nowMs) {
    nextChangeMs = Math.min(nextChangeMs, newest.signsFromMs + plan.rotateEveryMs - plan.leadMs);
  }
  return { signing: signing.pair, verifying, published, nextChangeMs };
}

function asymmetricSigner(store: SigningKeyStore, plan: RotationPlan & { alg: AsymmetricAlgorithm }, bootMs: number): TokenSigner {
  store.setUpAtBoot(bootMs, plan.ttlSeconds);
  store.advance(bootMs, plan);
  let view = viewKeys(store.list(), bootMs, plan);
  const current = (nowMs: number): KeyView => {
    if (nowMs >= view.nextChangeMs) {
      store.advance(nowMs, plan);
      view = viewKeys(store.list(), nowMs, plan);
    }
    return view;
  };
  return {
    algorithm: plan.alg,
    sign: (claims, nowMs) => signJwtWith(current(nowMs).signing, claims),
    verify: (token, expect) => verifyJwtWith(token, current(expect.nowMs).verifying, expect),
    publicKeys: (nowMs) => [...current(nowMs).published],
    rotateNow(nowMs) {
      store.replaceAll(nowMs, plan.ttlSeconds);
      view = viewKeys(store.list(), nowMs, plan);
    },
  };
}
