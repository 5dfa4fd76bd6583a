/**
 * The SQLite engine's entry point for loading a project: open the file, plan its declared schema,
 * apply the plan (with the backup a destructive plan gets first) and run the boot-time writes in
 * one transaction. src/projects/ calls these; no statement of the project's database lives there.
 */
import type { Database } from "bun:sqlite";
import type { ProjectConfig } from "../../config/types.ts";
import type { Logger } from "../../log.ts";
import { applySchema, planSchema } from "../schema/index.ts";
import { backupBeforeDestructivePlan } from "./backup.ts";
import { createSettingsRepo, type SettingsRepo } from "./settings.ts";

export { closeProjectDb, openProjectDb } from "./open.ts";
export { nextMailAt } from "./admin.ts";

/** The plan id a `confirm_destructive: true` has already confirmed (see src/storage/schema/plan.ts). */
export const CONFIRM_TRUE_SPENT_KEY = "confirm_destructive.true_spent_on";

/** Number of changes the declared tables need (0: the database is in sync). */
export function pendingSchemaChanges(db: Database, config: ProjectConfig): number {
  return planSchema(db, config.tables, { confirmDestructive: config.confirmDestructive }).changes.length;
}

/**
 * Applies the project's schema plan, or throws when it is refused. A `confirm_destructive: true`
 * confirms one destructive plan, and stays spent while the file keeps saying `true`. Returns the
 * settings group of the connection for the boot-time writes that follow.
 */
export function applyProjectSchema(db: Database, config: ProjectConfig, opts: { dataDir: string; nowIso: string; log: Logger }): SettingsRepo {
  const settings = createSettingsRepo(db);
  const confirm = config.confirmDestructive;
  if (confirm !== true && settings.get(CONFIRM_TRUE_SPENT_KEY) !== null) settings.remove(CONFIRM_TRUE_SPENT_KEY);
  const trueSpentOn = confirm === true ? (settings.get(CONFIRM_TRUE_SPENT_KEY)?.value ?? null) : null;
  const plan = applySchema(db, config.tables, {
    confirmDestructive: confirm,
    trueSpentOn,
    nowIso: opts.nowIso,
    beforeDestructive: (planned) => {
      if (planned.planId === null) return;
      const path = backupBeforeDestructivePlan(db, { dataDir: opts.dataDir, projectId: config.id, planId: planned.planId });
      opts.log.info("backup written before a destructive schema change", { file: path, plan_id: planned.planId, changes: planned.destructive.length });
    },
  });
  for (const c of plan.changes) opts.log.info("schema change applied", { change: c.kind, table: c.table, column: c.column });
  if (plan.confirmNote !== null) opts.log.warn(plan.confirmNote, { plan_id: plan.planId });
  if (confirm === true && plan.planId !== null) settings.setValue(CONFIRM_TRUE_SPENT_KEY, plan.planId, opts.nowIso);
  return settings;
}

/** Runs the boot-time writes (keys, origins, the JWT secret, signing keys) in one transaction: one fsync. */
export function inBootTransaction<T>(db: Database, writes: () => T): T {
  return db.transaction(writes)();
}
