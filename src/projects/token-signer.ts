/**
 * Signs and verifies a project's access tokens with the algorithm of its file (SPEC 7.1, 13), and
 * runs the key schedule of SPEC 13 on the server clock — no timer, no cron: every sign, verify and
 * JWKS read compares the clock with the next moment the schedule changes, and only then touches
 * the database. The schedule lives in the database, so a restart resumes it where it was. One
 * signer for both engines: SQLite builds it here (createTokenSigner), PostgreSQL in
 * src/projects/pg-runtime.ts over the replica's snapshot (same hs256Signer / asymmetricSigner).
 */
import type { SigningAlgorithm } from "../config/types.ts";
import { signJwt, verifyJwt, type JwtVerifyResult, type TokenClaims } from "../crypto/jwt.ts";
import { signJwtWith, verifyJwtWith, type AsymmetricAlgorithm, type PublicJwk, type SigningKeyPair } from "../crypto/jwt-asymmetric.ts";
import type { JwtSecrets } from "../storage/sqlite/jwt-secrets.ts";
import type { SettingsRepo } from "../storage/sqlite/settings.ts";
import type { SignerStorage, SigningKeyStore } from "../storage/sqlite/signing-keys.ts";
import { rotationPlanOf, signingAlgorithmChange, SIGNING_ALGORITHM_SETTING, type RotationPlan, type StoredSigningKey } from "../storage/signing.ts";

export interface TokenExpectation {
  readonly aud: string;
  readonly iss: string;
  readonly nowMs: number;
}

export interface TokenSigner {
  readonly algorithm: SigningAlgorithm;
  sign(claims: TokenClaims, nowMs: number): string;
  verify(token: string, expect: TokenExpectation): JwtVerifyResult;
  /**
   * The public keys that verify tokens now or soon (SPEC 13 JWKS); empty for HS256. A promise on
   * PostgreSQL while a due step of the key schedule is being stored (see asymmetricSigner).
   */
  publicKeys(nowMs: number): PublicJwk[] | Promise<PublicJwk[]>;
  /** The emergency switch: every token signed so far is refused from now on (PostgreSQL: once the promise resolves). */
  rotateNow(nowMs: number): void | Promise<void>;
}

/**
 * Builds the signer on SQLite. Call inside the boot transaction. `switchedFrom` names the old
 * algorithm when its tokens may be out there.
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
  const recorded = opts.settings.get(SIGNING_ALGORITHM_SETTING)?.value ?? null;
  const change = signingAlgorithmChange(recorded, opts.algorithm);
  if (change.switched) {
    opts.secrets.rotate(nowIso);
    if (opts.algorithm === "HS256") storage.dropAllSigningKeys();
  }
  if (change.record) opts.settings.setValue(SIGNING_ALGORITHM_SETTING, opts.algorithm, nowIso);
  // Reported only when tokens of the old algorithm may exist (not at a new project's first boot).
  const hadTokens = change.switched && (recorded !== null || storage.anySessionExists());
  let signer: TokenSigner;
  if (opts.algorithm === "HS256") {
    signer = hs256Signer(opts.secrets);
  } else {
    const plan = rotationPlanOf(opts);
    const store = storage.signingKeys(opts.algorithm);
    store.setUpAtBoot(opts.nowMs, plan.ttlSeconds);
    store.advance(opts.nowMs, plan);
    signer = asymmetricSigner(sqliteKeySchedule(store), { ...plan, alg: opts.algorithm }, opts.nowMs);
  }
  return { signer, switchedFrom: hadTokens ? change.previous : null };
}

/** The HS256 secret as the signer sees it: read synchronously, rotated at once (SQLite) or once stored (PostgreSQL). */
export interface Hs256Secret {
  current(): Uint8Array;
  rotate(nowIso: string): void | Promise<void>;
}

export function hs256Signer(secrets: Hs256Secret): TokenSigner {
  return {
    algorithm: "HS256",
    sign: (claims) => signJwt(claims, secrets.current()),
    verify: (token, expect) => verifyJwt(token, secrets.current(), expect),
    publicKeys: () => [],
    rotateNow: (nowMs) => secrets.rotate(new Date(nowMs).toISOString()),
  };
}

/** Keys as one engine or the other hands them: at once (SQLite) or once the database answered (PostgreSQL). */
export type MaybeAsync<T> = T | Promise<T>;

/**
 * The key pairs as the asymmetric signer sees them, on either engine. `keys()` is what this
 * process holds now (the same array until it changes: a new array tells the signer to look
 * again); `advance` and `replaceAll` write through the engine's SigningKeyStore and return the
 * keys after the write. SQLite answers synchronously; PostgreSQL keeps the keys in the replica's
 * snapshot (refreshed through the settings version) and answers with a promise.
 */
export interface SigningKeySchedule {
  keys(): readonly StoredSigningKey[];
  advance(nowMs: number, plan: RotationPlan): MaybeAsync<readonly StoredSigningKey[]>;
  replaceAll(nowMs: number, ttlSeconds: number): MaybeAsync<readonly StoredSigningKey[]>;
}

/** SQLite's schedule: the keys read at the last change (one process owns the file), re-read after each write. */
function sqliteKeySchedule(store: SigningKeyStore): SigningKeySchedule {
  let keys: readonly StoredSigningKey[] = store.list();
  return {
    keys: () => keys,
    advance(nowMs, plan) {
      store.advance(nowMs, plan);
      return (keys = store.list());
    },
    replaceAll(nowMs, ttlSeconds) {
      store.replaceAll(nowMs, ttlSeconds);
      return (keys = store.list());
    },
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

/** How long a failed asynchronous step of the schedule waits before it is tried again. */
const RETRY_ADVANCE_MS = 1000;

/**
 * The EdDSA / ES256 signer of both engines. Signing and verifying stay synchronous: they read a
 * view of the keys computed from `schedule.keys()` (pure, see viewKeys), recomputed when the keys
 * change or the clock reaches the view's next change. At that moment the schedule's step runs
 * (delete expired keys, add a due successor). On SQLite it runs at once. On PostgreSQL it runs in
 * the background (one at a time; a failed one is retried after RETRY_ADVANCE_MS) while the view
 * is computed from the snapshot at the new time: which key signs and which verify follow from the
 * stored schedule alone, and a successor created a moment late is published that moment late and
 * signs a full lead after its creation (signs_from is computed from the time of the step). The
 * JWKS alone waits for the step under way (publicKeys returns its promise then), so a verifier
 * sees the successor as soon as it is due.
 */
export function asymmetricSigner(schedule: SigningKeySchedule, plan: RotationPlan & { alg: AsymmetricAlgorithm }, bootMs: number): TokenSigner {
  let from = schedule.keys();
  let view = viewKeys(from, bootMs, plan);
  let stepping: Promise<void> | null = null;
  let retryAt = 0;
  const look = (keys: readonly StoredSigningKey[], nowMs: number): KeyView => {
    // A replica's snapshot may be empty for a moment (another replica switched the algorithm):
    // the keys in force stay until the step has made one.
    if (keys.length === 0) return view;
    from = keys;
    return (view = viewKeys(keys, nowMs, plan));
  };
  const current = (nowMs: number): KeyView => {
    const keys = schedule.keys();
    if (keys !== from) look(keys, nowMs);
    if (nowMs < view.nextChangeMs) return view;
    if (stepping === null && performance.now() >= retryAt) {
      const after = schedule.advance(nowMs, plan);
      if (!(after instanceof Promise)) return look(after, nowMs);
      stepping = after.then(
        (keys) => void look(keys, nowMs),
        () => void (retryAt = performance.now() + RETRY_ADVANCE_MS),
      ).finally(() => (stepping = null));
    }
    return look(schedule.keys(), nowMs);
  };
  return {
    algorithm: plan.alg,
    sign: (claims, nowMs) => signJwtWith(current(nowMs).signing, claims),
    verify: (token, expect) => verifyJwtWith(token, current(expect.nowMs).verifying, expect),
    publicKeys(nowMs) {
      current(nowMs);
      if (stepping === null) return [...view.published];
      return stepping.then(() => [...current(nowMs).published]);
    },
    rotateNow(nowMs) {
      const after = schedule.replaceAll(nowMs, plan.ttlSeconds);
      if (!(after instanceof Promise)) return void look(after, nowMs);
      return after.then((keys) => void look(keys, nowMs));
    },
  };
}
