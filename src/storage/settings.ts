/** Project settings: key/value rows with the value the project file declared at the last boot (SPEC §2). */

export interface SettingRow {
  readonly value: string;
  readonly declared: string | null;
}

export interface SettingsOps {
  get(key: string): Promise<SettingRow | null>;
  /** Changes the value in force (API change); keeps `declared`. */
  setValue(key: string, value: string, nowIso: string): Promise<void>;
  /**
   * Applies the declared-vs-API rule at boot: when `declared` differs from what the file declared
   * last time, the declared value wins; otherwise an API change stands. `declared` null = the file
   * does not declare the key (the value in force is kept, or `fallback` if there is none).
   * Returns the value in force and whether the declaration was applied. One atomic operation.
   */
  reconcile(key: string, declared: string | null, fallback: () => string, nowIso: string): Promise<{ value: string; applied: boolean }>;
  remove(key: string): Promise<void>;
  /** The redirect origins in force (SPEC 9.3). */
  redirectOrigins(): Promise<string[]>;
  setRedirectOrigins(origins: readonly string[], nowIso: string): Promise<void>;
}

/** The settings key of the redirect origins. */
export const ORIGINS_KEY = "allowed_redirect_origins";
