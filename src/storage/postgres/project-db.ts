/**
 * The PostgreSQL engine's entry point for loading a project (the counterpart of
 * src/storage/sqlite/project-db.ts): the schema plan applied under the project's advisory lock
 * (schema.ts), then the boot-time writes (keys, redirect origins, the JWT secret, the signing
 * algorithm) in one transaction under a second advisory lock, so replicas booting a new project at
 * once run them one after the other: the first creates, the others find what it created. Also the
 * reads a replica keeps in memory between two looks at the settings version (`readPgSnapshot`).
 */
import type { SQL, TransactionSQL } from "bun";
import type { ProjectConfig } from "../../config/types.ts";
import type { RandomBytes } from "../../crypto/random.ts";
import { seal, unseal } from "../../crypto/seal.ts";
import { ORIGINS_KEY } from "../settings.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import type { SchemaPlan } from "../schema/types.ts";
import { num } from "./context.ts";
import { pgStoreBinder, type PgProjectStoreContext } from "./project-store.ts";
import { applyPostgresSchema } from "./schema.ts";
import { pgSettingsVersion } from "./settings.ts";
import { projectSchemaName } from "./url.ts";

/** The setting that records the signing algorithm in force (as in SQLite, see token-signer.ts). */
const ALGORITHM_SETTING = "signing.algorithm";

/** A project's JWT secret cannot be opened with this server key: the project does not load. */
export class PgSecretError extends Error {
  override readonly name = "PgSecretError";
}

export interface PgBootResult {
  readonly plan: SchemaPlan;
  /** Keys this replica generated (to print once); empty on every replica but the one that created them. */
  readonly generatedKeys: { admin?: string; public?: string };
}

/** Applies the schema plan, then reconciles keys, origins and the JWT secret in one transaction. */
export async function bootPgProject(
  ctx: PgProjectStoreContext & { readonly jwtSealKey: Uint8Array },
  nowIso: string,
): Promise<PgBootResult> {
  const { config } = ctx;
  if (config.auth.signing.algorithm !== "HS256") {
    throw new Error(`auth.signing.algorithm ${config.auth.signing.algorithm} is not available on PostgreSQL in this build (HS256 is); use SQLite for it`);
  }
  const plan = await applyPostgresSchema(ctx.sql, config.id, config.tables, { confirmDestructive: config.confirmDestructive, nowIso });
  return { plan, generatedKeys: await bootPgWrites(ctx, nowIso) };
}

/**
 * The boot-time writes of a project whose schema is in place: keys, origins, the JWT secret, the
 * algorithm setting, in one transaction under the project's boot lock. Returns the keys generated
 * by this call (none when another replica created them first).
 */
export async function bootPgWrites(ctx: PgProjectStoreContext & { readonly jwtSealKey: Uint8Array }, nowIso: string): Promise<{ admin?: string; public?: string }> {
  const { config } = ctx;
  const schema = projectSchemaName(config.id);
  const bind = pgStoreBinder(ctx);
  const declaredOrigins = config.allowedRedirectOrigins === undefined ? null : JSON.stringify(config.allowedRedirectOrigins);
  const generatedKeys = (await ctx.sql.begin(async (tx: TransactionSQL) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`latchkey boot ${schema}`}))`;
    const ops = bind(tx, tx);
    const generated = await ops.keys.ensure(config.keys, nowIso);
    await ops.settings.reconcile(ORIGINS_KEY, declaredOrigins, () => "[]", nowIso);
    if ((await currentSecretRow(tx, schema)) === null) await insertSecret(tx, schema, ctx, nowIso);
    if ((await ops.settings.get(ALGORITHM_SETTING))?.value !== "HS256") await ops.settings.setValue(ALGORITHM_SETTING, "HS256", nowIso);
    return generated;
  })) as { admin?: string; public?: string };
  return generatedKeys;
}

const secretAad = (projectId: string): string => `jwt-secret:${projectId}`;

async function currentSecretRow(sql: SQL, schema: string): Promise<Uint8Array | null> {
  const rows = (await sql.unsafe(`SELECT secret_enc FROM ${quoteIdent(schema)}._jwt_secrets WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1`)) as { secret_enc: Uint8Array }[];
  return rows[0] ? new Uint8Array(rows[0].secret_enc) : null;
}

async function insertSecret(sql: SQL, schema: string, ctx: { config: ProjectConfig; random: RandomBytes; jwtSealKey: Uint8Array }, nowIso: string): Promise<void> {
  const sealed = seal(ctx.jwtSealKey, ctx.random(32), secretAad(ctx.config.id));
  await sql.unsafe(`INSERT INTO ${quoteIdent(schema)}._jwt_secrets (secret_enc, created_at) VALUES ($1, $2)`, [sealed, nowIso]);
}

/**
 * The emergency switch on PostgreSQL: the current secret is retired and a new one stored, in one
 * transaction (the version trigger tells every replica).
 */
export async function rotatePgJwtSecret(ctx: { sql: SQL; config: ProjectConfig; random: RandomBytes; jwtSealKey: Uint8Array }, nowIso: string): Promise<void> {
  const schema = projectSchemaName(ctx.config.id);
  await ctx.sql.begin(async (tx: TransactionSQL) => {
    await tx.unsafe(`UPDATE ${quoteIdent(schema)}._jwt_secrets SET retired_at = $1 WHERE retired_at IS NULL`, [nowIso]);
    await insertSecret(tx, schema, ctx, nowIso);
  });
}

/** What a replica keeps in memory of a project's settings, read in one statement (one snapshot). */
export interface PgSnapshot {
  readonly version: number;
  readonly keyHashes: { readonly admin: string | null; readonly public: string | null };
  readonly origins: string[];
  readonly jwtSecret: Uint8Array;
}

export async function readPgSnapshot(sql: SQL, projectId: string, jwtSealKey: Uint8Array): Promise<PgSnapshot> {
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
    jwtSecret = unseal(jwtSealKey, new Uint8Array(r.secret_enc), secretAad(projectId));
  } catch {
    throw new PgSecretError(`project ${projectId}: its JWT secret cannot be opened with this server key (is LATCHKEY_SERVER_KEY the same on every replica?)`);
  }
  return {
    version: num(r.version ?? 0),
    keyHashes: { admin: r.admin_hash, public: r.public_hash },
    origins: r.origins === null ? [] : (JSON.parse(r.origins) as string[]),
    jwtSecret,
  };
}

/** The project's settings version (see settings.ts): one primary-key read. */
export function readPgVersion(sql: SQL, projectId: string): Promise<number> {
  return pgSettingsVersion(sql, projectSchemaName(projectId));
}

/** The earliest pending mail of the project (null: none). */
export { pgNextMailAt } from "./admin.ts";
