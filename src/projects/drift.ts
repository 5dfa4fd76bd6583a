/**
 * Drift between the project files and a project database (`latchkey check --data`): values the
 * admin API (or `latchkey keys rotate`) changed away from what the file declares, and tables changed
 * outside Latchkey. Read-only. Key values are never shown, only that the key in force is not the
 * file's.
 */
import type { SettingsRepo } from "../storage/sqlite/settings.ts";
import type { ProjectConfig } from "../config/types.ts";
import { sha256Hex } from "../crypto/digest.ts";
import type { SchemaPlan } from "../storage/schema/index.ts";
import { ORIGINS_KEY } from "./runtime.ts";

export type DriftKind =
  /** Changed through the admin API since the file's value was applied; the next start keeps it. */
  | "changed_by_api"
  /** The file's declaration changed since the last start: the next start applies it. */
  | "applies_at_next_start"
  /** A table was changed outside Latchkey. */
  | "schema";

export interface DriftItem {
  /** `allowed_redirect_origins`, `keys.admin`, `keys.public`, or `tables.<name>`. */
  readonly key: string;
  readonly kind: DriftKind;
  readonly message: string;
}

function declaredVsStored(
  settings: Pick<SettingsRepo, "get">,
  key: string,
  declared: string,
  describe: { changed: string; pending: string },
): DriftItem | null {
  const row = settings.get(key);
  if (row === null) return null; // never started with this database: the file's value will apply
  if (row.declared !== declared) {
    return row.value === declared ? null : { key, kind: "applies_at_next_start", message: describe.pending };
  }
  return row.value === declared ? null : { key, kind: "changed_by_api", message: describe.changed };
}

/** Every drift of one project; `plan` is its schema plan against the same database. */
export function describeDrift(settings: Pick<SettingsRepo, "get">, config: ProjectConfig, plan: SchemaPlan): DriftItem[] {
  const items: DriftItem[] = [];
  if (config.allowedRedirectOrigins !== undefined) {
    const declared = JSON.stringify(config.allowedRedirectOrigins);
    const current = settings.get(ORIGINS_KEY)?.value ?? "[]";
    const item = declaredVsStored(settings, ORIGINS_KEY, declared, {
      changed: `changed through the admin API to ${current}; the file declares ${declared}. The API change stands until the file's list changes`,
      pending: `the file's list ${declared} replaces the current ${current} at the next start`,
    });
    if (item) items.push(item);
  }
  for (const kind of ["admin", "public"] as const) {
    const key = config.keys[kind];
    if (key === undefined) continue;
    const item = declaredVsStored(settings, `keys.${kind}`, sha256Hex(key), {
      changed: `the ${kind} key was rotated (admin API or \`latchkey keys rotate\`): the key in the file no longer works, and is not applied again until it changes`,
      pending: `the ${kind} key in the file replaces the current one at the next start`,
    });
    if (item) items.push(item);
  }
  for (const c of plan.conflicts) {
    if (c.kind === "schema_drift" || c.kind === "foreign_table") items.push({ key: `tables.${c.table}`, kind: "schema", message: c.description });
  }
  return items;
}
