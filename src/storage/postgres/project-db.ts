/**
 * The PostgreSQL engine's entry point for loading a project (the counterpart of
 * src/storage/sqlite/project-db.ts): the schema plan applied under the project's advisory lock
 * (schema.ts), then the boot-time writes (keys, redirect origins, the JWT secret, the signing
 * algorithm) in one transaction under a second advisory lock, so replicas booting a new project at
 * once run them one after the other: the first creates, the others find what it created. The
 * signing algorithm is reconciled there too, with the rules of SQLite (src/projects/token-signer.ts):
 * a switch retires the old algorithm's secret or keys, and the key schedule is set up and advanced.
 * Also the reads a replica keeps in memory between two looks at the settings version (`readPgSnapshot`).
 */
import type { SQL, TransactionSQL } from "bun";
import { ORIGINS_KEY } from "../settings.ts";
import { rotationPlanOf, signingAlgorithmChange, SIGNING_ALGORITHM_SETTING, type StoredSigningKey } from "../signing.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import type { SchemaPlan } from "../schema/types.ts";
import { num } from "./context.ts";
import { jwtSecretLockKey, openJwtSecret, pgJwtSecrets } from "./jwt-secrets.ts";
import { projectKeysLockKey } from "./keys.ts";
import { pgStoreBinder, type PgProjectStoreContext } from "./project-store.ts";
import { applyPostgresSchema } from "./schema.ts";
import { pgSettingsVersion } from "./settings.ts";
import { pgSignerStorage, signingLockKey, type PgSigningKeyStore } from "./signing-keys.ts";
import { projectSchemaName } from "./url.ts";

/** A project's JWT secret is missing or cannot be opened with this server key: the project does not load. */
export class PgSecretError extends Error {
  override readonly name = "PgSecretError";
}

/** What the boot writes need beyond the store: the seal keys of the JWT secret and of the signing key pairs. */
export type PgBootContext = PgProjectStoreContext & { readonly jwtSealKey: Uint8Array; readonly signingSealKey: Uint8Array };

export interface PgBootWrites {
  /** Keys this replica generated (to print once); empty on every replica but the one that created them. */
  readonly generatedKeys: { admin?: string; public?: string };
  /**
   * The algorithm the project signed with before this boot, when the file switched it and tokens
   * of the old one may be out there (log `signing_algorithm_changed`); null otherwise, and on
   * every replica but the one whose boot recorded the switch.
   */
  readonly switchedFrom: string | null;
}

export interface PgBootResult extends PgBootWrites {
  readonly plan: SchemaPlan;
}

/** Applies the schema plan, then reconciles keys, origins, the JWT secret and the signing keys in one transaction. */
export async function bootPgProject(ctx: PgBootContext, nowIso: string): Promise<PgBootResult> {
  const { config } = ctx;
  const plan = await applyPostgresSchema(ctx.sql, config.id, config.tables, { confirmDestructive: config.confirmDestructive, nowIso });
  return { plan, ...(await bootPgWrites(ctx, nowIso)) };
}

/**
 * The boot-time writes of a project whose schema is in place: keys, origins, the JWT secret, the
 * signing algorithm and its key pairs, in one transaction under the project's boot lock.
 */
export async function bootPgWrites(ctx: PgBootContext, nowIso: string): Promise<PgBootWrites> {
  const { config } = ctx;
  const schema = projectSchemaName(config.id);
  const bind = pgStoreBinder(ctx);
  const declaredOrigins = config.allowedRedirectOrigins === undefined ? null : JSON.stringify(config.allowedRedirectOrigins);
  const nowMs = Date.parse(nowIso);
  const { algorithm } = config.auth.signing;
  return (await ctx.sql.begin(async (tx: TransactionSQL) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`latchkey boot ${schema}`}))`;
    // Every lock a running replica takes before it writes (a key rotation, a JWT-secret rotation, a
    // step of the key schedule), taken now, before any write here moves the settings version: such
    // a replica holds its lock and then waits for the version row, so taking one of them after a
    // write would wait in a cycle with it (a deadlock). In this order nothing waits for this
    // transaction while holding what it needs.
    for (const key of [projectKeysLockKey(schema), jwtSecretLockKey(schema), signingLockKey(schema)]) await tx`SELECT pg_advisory_xact_lock(hashtext(${key}))`;
    const ops = bind(tx, tx);
    const inTx = { sql: tx, inTransaction: true, schema };
    const generatedKeys = await ops.keys.ensure(config.keys, nowIso);
    await ops.settings.reconcile(ORIGINS_KEY, declaredOrigins, () => "[]", nowIso);
    const secrets = pgJwtSecrets(inTx, { sealKey: ctx.jwtSealKey, projectId: config.id, random: ctx.random });
    await secrets.ensure(nowIso);
    // The algorithm, as on SQLite (createTokenSigner): a switch retires what the old one verified.
    const signing = pgSignerStorage(inTx, { sealKey: ctx.signingSealKey, projectId: config.id });
    const recorded = (await ops.settings.get(SIGNING_ALGORITHM_SETTING))?.value ?? null;
    const change = signingAlgorithmChange(recorded, algorithm);
    if (change.switched) {
      await secrets.rotate(nowIso);
      if (algorithm === "HS256") await signing.dropAllSigningKeys();
    }
    if (change.record) await ops.settings.setValue(SIGNING_ALGORITHM_SETTING, algorithm, nowIso);
    const hadTokens = change.switched && (recorded !== null || (await signing.anySessionExists()));
    if (algorithm !== "HS256") {
      const plan = rotationPlanOf({ rotateEverySeconds: config.auth.signing.rotateEverySeconds, accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds });
      const keys = signing.signingKeys(algorithm);
      await keys.setUpAtBoot(nowMs, plan.ttlSeconds);
      await keys.advance(nowMs, plan);
    }
    return { generatedKeys, switchedFrom: hadTokens ? change.previous : null };
  })) as PgBootWrites;
}

/** What a replica keeps in memory of a project's settings, read in one statement (one snapshot). */
export interface PgSnapshot {
  readonly version: number;
  readonly keyHashes: { readonly admin: string | null; readonly public: string | null };
  readonly origins: string[];
  readonly jwtSecret: Uint8Array;
  /** The key pairs of the project's EdDSA / ES256 algorithm, oldest first (empty for HS256). */
  readonly signingKeys: readonly StoredSigningKey[];
}

/**
 * Reads the snapshot: the settings, keys and secret in one statement, then the signing key pairs
 * when `signing` is given (after the version: a change in between moves the version again, so the
 * next look reads everything once more; the keys are never older than the version recorded).
 */
export async function readPgSnapshot(sql: SQL, projectId: string, jwtSealKey: Uint8Array, signing?: PgSigningKeyStore): Promise<PgSnapshot> {
  const s = quoteIdent(projectSchemaName(projectId));
  const [r] = (await sql.unsafe(`SELECT
      (SELECT version FROM ${s}._settings_version) AS version,
      (SELECT value FROM ${s}._settings WHERE key = 'keys.admin') AS admin_hash,
      (SELECT value FROM ${s}._settings WHERE key = 'keys.public') AS public_hash,
      (SELECT value FROM ${s}._settings WHERE key = $1) AS origins,
      (SELECT secret_enc FROM ${s}._jwt_secrets WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1) AS secret_enc`, [ORIGINS_KEY])) as {
    version: unknown;
    admin_hash: string | null;
    public_hash: string | null;
    origins: string | null;
    secret_enc: Uint8Array | null;
  }[];
  if (!r || r.secret_enc === null) throw new PgSecretError(`project ${projectId}: no JWT secret is stored`);
  let jwtSecret: Uint8Array;
  try {
    jwtSecret = openJwtSecret(jwtSealKey, projectId, r.secret_enc);
  } catch {
    throw new PgSecretError(`project ${projectId}: its JWT secret cannot be opened with this server key (is LATCHKEY_SERVER_KEY the same on every replica?)`);
  }
  const signingKeys = signing ? await signing.list() : [];
  return {
    version: num(r.version ?? 0),
    keyHashes: { admin: r.admin_hash, public: r.public_hash },
    origins: r.origins === null ? [] : (JSON.parse(r.origins) as string[]),
    jwtSecret,
    signingKeys,
  };
}

/** The project's settings version (see settings.ts): one primary-key read. */
export function readPgVersion(sql: SQL, projectId: string): Promise<number> {
  return pgSettingsVersion(sql, projectSchemaName(projectId));
}

/** The earliest pending mail of the project (null: none). */
export { pgNextMailAt } from "./admin.ts";
