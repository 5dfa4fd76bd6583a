/**
 * Storage of EdDSA / ES256 signing key pairs on PostgreSQL (SPEC 13), the asynchronous form of
 * src/storage/sqlite/signing-keys.ts with the same schedule. Every step that writes is one
 * transaction under the project's signing advisory lock that re-reads what it decides on, so two
 * replicas (or a restart in the middle) can never schedule two successors for one key. Every
 * write bumps the settings version (internal.sql): the other replicas reload the keys.
 */
import type { AsymmetricAlgorithm } from "../../crypto/jwt-asymmetric.ts";
import { signingKeyRing, type RotationPlan, type StoredSigningKey } from "../signing.ts";
import { atomic, changes, num, numOrNull, rows, tableOf, type PgOpsContext } from "./context.ts";

export type { RotationPlan, StoredSigningKey } from "../signing.ts";

/** The SigningKeyStore of src/storage/sqlite/signing-keys.ts, every operation awaited. */
export interface PgSigningKeyStore {
  list(): Promise<StoredSigningKey[]>;
  setUpAtBoot(nowMs: number, ttlSeconds: number): Promise<void>;
  advance(nowMs: number, plan: RotationPlan): Promise<boolean>;
  replaceAll(nowMs: number, ttlSeconds: number): Promise<void>;
}

export interface PgSignerStorage {
  signingKeys(alg: AsymmetricAlgorithm): PgSigningKeyStore;
  dropAllSigningKeys(): Promise<void>;
  anySessionExists(): Promise<boolean>;
}

interface Row {
  kid: string;
  private_enc: Uint8Array;
  created_at: unknown;
  signs_from: unknown;
  signs_until: unknown;
  ttl_max_s: unknown;
}

type Ctx = Pick<PgOpsContext, "sql" | "inTransaction" | "schema">;

/** The advisory lock every step of a project's key schedule takes (see bootPgWrites for the order of locks). */
export const signingLockKey = (schema: string): string => `latchkey signing ${schema}`;

export function pgSigningKeyStore(ctx: Ctx, opts: { sealKey: Uint8Array; projectId: string; alg: AsymmetricAlgorithm }): PgSigningKeyStore {
  const t = tableOf(ctx, "_signing_keys");
  const lockKey = signingLockKey(ctx.schema);
  const ring = signingKeyRing(opts);
  const locked = <T>(fn: (tx: Ctx["sql"]) => Promise<T>): Promise<T> =>
    atomic(ctx, async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
      return await fn(tx);
    });
  const addKey = async (tx: Ctx["sql"], nowMs: number, signsFromMs: number, ttlSeconds: number): Promise<string> => {
    const { kid, sealed } = ring.generate();
    await tx.unsafe(`INSERT INTO ${t} (kid, alg, private_enc, created_at, signs_from, signs_until, ttl_max_s) VALUES ($1, $2, $3, $4, $5, NULL, $6)`,
      [kid, opts.alg, sealed, nowMs, signsFromMs, ttlSeconds]);
    return kid;
  };
  const newest = async (tx: Ctx["sql"]): Promise<{ kid: string; signs_from: number } | null> => {
    const [r] = await rows<{ kid: string; signs_from: unknown }>(tx, `SELECT kid, signs_from FROM ${t} WHERE alg = $1 ORDER BY signs_from DESC LIMIT 1`, [opts.alg]);
    return r ? { kid: r.kid, signs_from: num(r.signs_from) } : null;
  };

  return {
    async list() {
      const found = await rows<Row>(ctx.sql,
        `SELECT kid, private_enc, created_at, signs_from, signs_until, ttl_max_s FROM ${t} WHERE alg = $1 ORDER BY signs_from, created_at`, [opts.alg]);
      ring.keepOnly(found.map((r) => r.kid));
      return found.map((row) => ({
        pair: ring.open(row.kid, new Uint8Array(row.private_enc)),
        createdAtMs: num(row.created_at),
        signsFromMs: num(row.signs_from),
        signsUntilMs: numOrNull(row.signs_until),
        ttlMaxSeconds: num(row.ttl_max_s),
      }));
    },
    setUpAtBoot: (nowMs, ttlSeconds) =>
      locked(async (tx) => {
        await tx.unsafe(`DELETE FROM ${t} WHERE alg <> $1`, [opts.alg]);
        await tx.unsafe(`UPDATE ${t} SET ttl_max_s = GREATEST(ttl_max_s, $2) WHERE alg = $3 AND (signs_until IS NULL OR signs_until > $1)`, [nowMs, ttlSeconds, opts.alg]);
        if ((await newest(tx)) === null) await addKey(tx, nowMs, nowMs, ttlSeconds);
      }),
    advance: (nowMs, plan) =>
      locked(async (tx): Promise<boolean> => {
        let changed = (await changes(tx, `DELETE FROM ${t} WHERE alg = $1 AND signs_until IS NOT NULL AND signs_until + ttl_max_s * 1000 <= $2`, [opts.alg, nowMs])) > 0;
        const last = await newest(tx);
        if (last === null) {
          await addKey(tx, nowMs, nowMs, plan.ttlSeconds);
          return true;
        }
        if (plan.rotateEveryMs === null || last.signs_from > nowMs) return changed;
        const dueAtMs = last.signs_from + plan.rotateEveryMs - plan.leadMs;
        if (nowMs < dueAtMs) return changed;
        const signsFromMs = Math.max(last.signs_from + plan.rotateEveryMs, nowMs + plan.leadMs);
        await addKey(tx, nowMs, signsFromMs, plan.ttlSeconds);
        await tx.unsafe(`UPDATE ${t} SET signs_until = $1 WHERE kid = $2`, [signsFromMs, last.kid]);
        changed = true;
        return changed;
      }),
    replaceAll: (nowMs, ttlSeconds) =>
      locked(async (tx) => {
        await tx.unsafe(`DELETE FROM ${t}`);
        ring.clear();
        await addKey(tx, nowMs, nowMs, ttlSeconds);
      }),
  };
}

export function pgSignerStorage(ctx: Ctx, opts: { sealKey: Uint8Array; projectId: string }): PgSignerStorage {
  return {
    signingKeys: (alg) => pgSigningKeyStore(ctx, { ...opts, alg }),
    async dropAllSigningKeys() {
      await ctx.sql.unsafe(`DELETE FROM ${tableOf(ctx, "_signing_keys")}`);
    },
    anySessionExists: async () => (await rows(ctx.sql, `SELECT 1 AS one FROM ${tableOf(ctx, "_sessions")} LIMIT 1`)).length > 0,
  };
}
