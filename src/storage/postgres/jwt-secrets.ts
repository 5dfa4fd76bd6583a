/**
 * The JWT secret storage of the PostgreSQL engine (what src/storage/sqlite/jwt-secrets.ts does on
 * SQLite): the project's HS256 secret sealed under a server-key-derived key in `_jwt_secrets`.
 * Asynchronous: a replica loads the secret at boot and again whenever the settings version moves
 * (every write here bumps it, see internal.sql), so a rotation on one replica reaches the others.
 * Creating and rotating take the project's secret advisory lock: replicas booting a new project
 * at once create one secret, and two rotations at once leave exactly one live secret.
 */
import { seal, unseal } from "../../crypto/seal.ts";
import type { RandomBytes } from "../../crypto/random.ts";
import { DbOpenError } from "../open-error.ts";
import { atomic, rows, tableOf, type PgOpsContext } from "./context.ts";

export interface PgJwtSecrets {
  /** The live secret, or null when the project has none yet. */
  load(): Promise<Uint8Array | null>;
  /** The live secret, created when there is none (one per project, whatever replicas ask at once). */
  ensure(nowIso: string): Promise<Uint8Array>;
  /** Retires the live secret and stores a new one, in one transaction; returns the new one. */
  rotate(nowIso: string): Promise<Uint8Array>;
}

const jwtSecretAad = (projectId: string): string => `jwt-secret:${projectId}`;

/** The advisory lock creating or rotating a project's JWT secret takes (see bootPgWrites for the order of locks). */
export const jwtSecretLockKey = (schema: string): string => `latchkey jwt ${schema}`;

/** Unseals a stored JWT secret (also what a replica's snapshot reads, see project-db.ts). */
export function openJwtSecret(sealKey: Uint8Array, projectId: string, sealed: Uint8Array): Uint8Array {
  try {
    return unseal(sealKey, new Uint8Array(sealed), jwtSecretAad(projectId));
  } catch {
    throw new DbOpenError(
      `project ${projectId}: its JWT secret cannot be opened with this server key (was server.key or LATCHKEY_SERVER_KEY changed?)`,
    );
  }
}

export function pgJwtSecrets(
  ctx: Pick<PgOpsContext, "sql" | "inTransaction" | "schema">,
  opts: { sealKey: Uint8Array; projectId: string; random: RandomBytes },
): PgJwtSecrets {
  const t = tableOf(ctx, "_jwt_secrets");
  const aad = jwtSecretAad(opts.projectId);
  const lockKey = jwtSecretLockKey(ctx.schema);
  const open = (sealed: Uint8Array): Uint8Array => openJwtSecret(opts.sealKey, opts.projectId, sealed);
  const loadOn = async (sql: PgOpsContext["sql"]): Promise<Uint8Array | null> => {
    const [r] = await rows<{ secret_enc: Uint8Array }>(sql, `SELECT secret_enc FROM ${t} WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1`);
    return r ? open(r.secret_enc) : null;
  };
  const create = async (sql: PgOpsContext["sql"], nowIso: string): Promise<Uint8Array> => {
    const secret = opts.random(32);
    await sql.unsafe(`UPDATE ${t} SET retired_at = $1 WHERE retired_at IS NULL`, [nowIso]);
    await sql.unsafe(`INSERT INTO ${t} (secret_enc, created_at) VALUES ($1, $2)`, [seal(opts.sealKey, secret, aad), nowIso]);
    return secret;
  };
  return {
    load: () => loadOn(ctx.sql),
    ensure: async (nowIso) =>
      (await loadOn(ctx.sql)) ??
      atomic(ctx, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
        return (await loadOn(tx)) ?? (await create(tx, nowIso));
      }),
    rotate: (nowIso) =>
      atomic(ctx, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
        return await create(tx, nowIso);
      }),
  };
}
