import type { Database } from "bun:sqlite";

export interface SettingRow {
  readonly value: string;
  readonly declared: string | null;
}

/** Key/value settings with the value the project file declared at the last boot (SPEC §2 rule). */
export interface SettingsRepo {
  get(key: string): SettingRow | null;
  /** Changes the value in force (API change); keeps `declared`. */
  setValue(key: string, value: string, nowIso: string): void;
  /**
   * Applies the declared-vs-API rule at boot: when `declared` differs from what the file declared
   * last time, the declared value wins; otherwise an API change stands. `declared` null = the file
   * does not declare the key (the value in force is kept, or `fallback` if there is none).
   * Returns the value in force and whether the declaration was applied.
   */
  reconcile(key: string, declared: string | null, fallback: () => string, nowIso: string): { value: string; applied: boolean };
  remove(key: string): void;
}

export function createSettingsRepo(db: Database): SettingsRepo {
  const getStmt = db.query("SELECT value, declared FROM _settings WHERE key = ?");
  const upsert = db.query(
    "INSERT INTO _settings(key, value, declared, updated_at) VALUES (?1, ?2, ?3, ?4) " +
      "ON CONFLICT(key) DO UPDATE SET value = ?2, declared = ?3, updated_at = ?4",
  );
  const setValueStmt = db.query("UPDATE _settings SET value = ?2, updated_at = ?3 WHERE key = ?1");
  const removeStmt = db.query("DELETE FROM _settings WHERE key = ?");
  const repo: SettingsRepo = {
    get: (key) => getStmt.get(key) as SettingRow | null,
    remove: (key) => void removeStmt.run(key),
    setValue(key, value, nowIso) {
      const row = repo.get(key);
      if (row) setValueStmt.run(key, value, nowIso);
      else upsert.run(key, value, null, nowIso);
    },
    reconcile(key, declared, fallback, nowIso) {
      return db.transaction(() => {
        const row = repo.get(key);
        if (declared !== null && (!row || row.declared !== declared)) {
          upsert.run(key, declared, declared, nowIso);
          return { value: declared, applied: true };
        }
        if (!row) {
          const value = fallback();
          upsert.run(key, value, declared, nowIso);
          return { value, applied: false };
        }
        if (declared === null && row.declared !== null) upsert.run(key, row.value, null, nowIso);
        return { value: row.value, applied: false };
      })();
    },
  };
  return repo;
}
