/**
 * The `keys` group of the PostgreSQL store: the project keys' SHA-256 in `_settings`
 * (`keys.admin`, `keys.public`), as in SQLite. A rotation is one transaction under the project's
 * key advisory lock, so rotations from every replica are serialized; the last rotation of each
 * kind is recorded (its key sealed) for about 10 s in `_key_rotations`, so a rotation authorized
 * before another replica's rotation landed answers with that rotation's key (the AdminGrant rule
 * of src/storage/keys.ts), as the SQLite engine does with the one process's memory.
 */
import type { SQL } from "bun";
import { sha256Hex } from "../../crypto/digest.ts";
import { seal, unseal } from "../../crypto/seal.ts";
import { generateKey, keyMatchesHash, type KeyKind, type KeysOps } from "../keys.ts";
import { atomic, num, rows, tableOf, type PgOpsContext } from "./context.ts";
import { pgSettings } from "./settings.ts";

/** How long a rotation's key is kept to answer a rotation that raced with it (as in SQLite). */
export const KEY_COALESCE_MS = 10_000;

/** The advisory lock a key rotation takes (see bootPgWrites for the order of locks). */
export const projectKeysLockKey = (schema: string): string => `latchkey keys ${schema}`;

export function pgKeys(ctx: PgOpsContext): KeysOps {
  const settings = pgSettings(ctx);
  const st = tableOf(ctx, "_settings");
  const kr = tableOf(ctx, "_key_rotations");
  const aad = (kind: KeyKind, toHash: string): string => `key-rotation:${ctx.config.id}:${kind}:${toHash}`;
  const storedHash = async (sql: SQL, kind: KeyKind): Promise<string | null> => {
    const [r] = await rows<{ value: string }>(sql, `SELECT value FROM ${st} WHERE key = $1`, [`keys.${kind}`]);
    return r?.value ?? null;
  };
  /** Deletes the sealed keys of rotations older than the coalescing window (best effort). */
  const forget = (): void => {
    const timer = setTimeout(() => {
      ctx.sql.unsafe(`DELETE FROM ${kr} WHERE at_ms <= $1`, [ctx.now() - KEY_COALESCE_MS]).catch(() => {});
    }, KEY_COALESCE_MS + 1_000);
    timer.unref?.();
  };

  return {
    async ensure(declared, nowIso) {
      const generated: { admin?: string; public?: string } = {};
      for (const kind of ["admin", "public"] as const) {
        const d = declared[kind];
        let key: string | null = null;
        const r = await settings.reconcile(`keys.${kind}`, d === undefined ? null : sha256Hex(d), () => {
          key = generateKey(kind, ctx.random);
          return sha256Hex(key);
        }, nowIso);
        // Reported only when this call's key is the one stored (another replica may have won).
        if (key !== null && r.value === sha256Hex(key)) generated[kind] = key;
      }
      return generated;
    },
    async rotate(kinds, nowIso, opts = {}) {
      const sealKey = ctx.sealKey;
      if (sealKey === null) throw new Error("PostgreSQL store built without a seal key: key rotations need one");
      const nowMs = Date.parse(nowIso);
      const out = await atomic(ctx, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${projectKeysLockKey(ctx.schema)}))`;
        const result: { admin?: string; public?: string } = {};
        for (const kind of kinds) {
          const current = await storedHash(tx, kind);
          const seen = opts.seen?.[kind];
          const [last] = await rows<{ from_hash: string | null; to_hash: string; key_enc: Uint8Array; at_ms: unknown }>(tx,
            `SELECT from_hash, to_hash, key_enc, at_ms FROM ${kr} WHERE kind = $1`, [kind]);
          if (seen !== undefined && seen !== current && last !== undefined && last.from_hash === seen
            && last.to_hash === current && nowMs - num(last.at_ms) <= KEY_COALESCE_MS) {
            result[kind] = new TextDecoder().decode(unseal(sealKey, new Uint8Array(last.key_enc), aad(kind, last.to_hash)));
            continue;
          }
          const key = generateKey(kind, ctx.random);
          const hash = sha256Hex(key);
          await tx.unsafe(`INSERT INTO ${st} (key, value, declared, updated_at) VALUES ($1, $2, NULL, $3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, [`keys.${kind}`, hash, nowIso]);
          await tx.unsafe(`INSERT INTO ${kr} (kind, from_hash, to_hash, key_enc, at_ms) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (kind) DO UPDATE SET from_hash = excluded.from_hash, to_hash = excluded.to_hash, key_enc = excluded.key_enc, at_ms = excluded.at_ms`,
            [kind, current, hash, seal(sealKey, new TextEncoder().encode(key), aad(kind, hash)), nowMs]);
          result[kind] = key;
        }
        return result;
      });
      forget();
      return out;
    },
    storedHash: (kind) => storedHash(ctx.sql, kind),
    matches: async (kind, presented) => keyMatchesHash(kind, presented, await storedHash(ctx.sql, kind)),
  };
}
