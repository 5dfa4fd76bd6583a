import type { Database } from "bun:sqlite";
import { ORIGINS_KEY, type SettingsOps } from "../settings.ts";
import type { Sync } from "./store.ts";
import { prepared } from "./prepared.ts";

export type { SettingRow } from "../settings.ts";

/** The SQLite settings group (`_settings`). */
export type SettingsRepo = Sync<SettingsOps>;

export function createSettingsRepo(db: Database): SettingsRepo {
  const s = {
    get: prepared(db, "SELECT value, declared FROM _settings WHERE key = ?"),
    upsert: prepared(db, "INSERT INTO _settings(key, value, declared, updated_at) VALUES (?1, ?2, ?3, ?4) " +
      "ON CONFLICT(key) DO UPDATE SET value = ?2, declared = ?3, updated_at = ?4"),
    setValue: prepared(db, "UPDATE _settings SET value = ?2, updated_at = ?3 WHERE key = ?1"),
    remove: prepared(db, "DELETE FROM _settings WHERE key = ?"),
  };
  const repo: SettingsRepo = {
    get: (key) => s.get().get(key) as { value: string; declared: string | null } | null,
    remove: (key) => void s.remove().run(key),
    setValue(key, value, nowIso) {
      // Either statement alone is atomic: an update of a missing key changes nothing, so insert.
      if (s.setValue().run(key, value, nowIso).changes === 0) s.upsert().run(key, value, null, nowIso);
    },
    reconcile(key, declared, fallback, nowIso) {
      return db.transaction(() => {
        const row = repo.get(key);
        if (declared !== null && (!row || row.declared !== declared)) {
          s.upsert().run(key, declared, declared, nowIso);
          return { value: declared, applied: true };
        }
        if (!row) {
          const value = fallback();
          s.upsert().run(key, value, declared, nowIso);
          return { value, applied: false };
        }
        if (declared === null && row.declared !== null) s.upsert().run(key, row.value, null, nowIso);
        return { value: row.value, applied: false };
      })();
    },
    redirectOrigins: () => JSON.parse(repo.get(ORIGINS_KEY)?.value ?? "[]") as string[],
    setRedirectOrigins: (origins, nowIso) => repo.setValue(ORIGINS_KEY, JSON.stringify(origins), nowIso),
  };
  return repo;
}
