/**
 * The `settings` group of the PostgreSQL store (`_settings`), and the settings version: a counter
 * every change to `_settings`, `_jwt_secrets` or `_signing_keys` bumps (a trigger, see
 * internal.sql), which replicas poll to see another replica's key, secret or origins change.
 */
import type { SQL } from "bun";
import { ORIGINS_KEY, type SettingRow, type SettingsOps } from "../settings.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { atomic, num, rows, tableOf, type PgOpsContext } from "./context.ts";

export function pgSettings(ctx: PgOpsContext): SettingsOps {
  const t = tableOf(ctx, "_settings");
  const get = async (sql: SQL, key: string, lock = false): Promise<SettingRow | null> => {
    const [r] = await rows<SettingRow>(sql, `SELECT value, declared FROM ${t} WHERE key = $1${lock ? " FOR UPDATE" : ""}`, [key]);
    return r ? { value: r.value, declared: r.declared } : null;
  };
  const upsert = (sql: SQL, key: string, value: string, declared: string | null, nowIso: string) =>
    sql.unsafe(`INSERT INTO ${t} (key, value, declared, updated_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, declared = excluded.declared, updated_at = excluded.updated_at`, [key, value, declared, nowIso]);
  const setValue = async (key: string, value: string, nowIso: string): Promise<void> => {
    // One statement: a new key gets no declared value, an existing one keeps its own.
    await ctx.sql.unsafe(`INSERT INTO ${t} (key, value, declared, updated_at) VALUES ($1, $2, NULL, $3)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, [key, value, nowIso]);
  };
  return {
    get: (key) => get(ctx.sql, key),
    setValue,
    reconcile: (key, declared, fallback, nowIso) =>
      atomic(ctx, async (tx) => {
        let row = await get(tx, key, true);
        if (declared !== null && (!row || row.declared !== declared)) {
          await upsert(tx, key, declared, declared, nowIso);
          return { value: declared, applied: true };
        }
        if (!row) {
          const value = fallback();
          const inserted = await rows(tx, `INSERT INTO ${t} (key, value, declared, updated_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (key) DO NOTHING RETURNING key`, [key, value, declared, nowIso]);
          if (inserted.length === 1) return { value, applied: false };
          // Another replica stored the key between our read and our insert: its value stands.
          row = (await get(tx, key, true))!;
        }
        if (declared === null && row.declared !== null) await upsert(tx, key, row.value, null, nowIso);
        return { value: row.value, applied: false };
      }),
    async remove(key) {
      await ctx.sql.unsafe(`DELETE FROM ${t} WHERE key = $1`, [key]);
    },
    redirectOrigins: async () => JSON.parse((await get(ctx.sql, ORIGINS_KEY))?.value ?? "[]") as string[],
    setRedirectOrigins: (origins, nowIso) => setValue(ORIGINS_KEY, JSON.stringify(origins), nowIso),
  };
}

/**
 * The project's settings version: it moves (within the transaction that commits the change) every
 * time a key, a secret, the origins or a signing key changes. One primary-key read.
 */
export async function pgSettingsVersion(sql: SQL, schema: string): Promise<number> {
  const [r] = await rows(sql, `SELECT version FROM ${quoteIdent(schema)}._settings_version`);
  return num(r?.version ?? 0);
}
