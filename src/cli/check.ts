/**
 * `latchkey check`: every problem of every project file in one run (with line and column), the
 * schema plan of each valid project with its plan id, and with `--data` the drift between the files
 * and the databases. `--json` prints one JSON document (CheckReport below, documented in
 * docs/configuration.md) for CI annotations; `--env-optional` makes unset `${VAR}`s warnings.
 * Never writes: databases are opened read-only.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { PluginRegistry } from "../../plugins/index.ts";
import { formatConfigIssue, loadProjects } from "../config/load.ts";
import type { ConfigIssue } from "../config/types.ts";
import { openProjectDb } from "../storage/sqlite/open.ts";
import { createSettingsRepo } from "../storage/sqlite/settings.ts";
import { describeDrift, type DriftItem } from "../projects/drift.ts";
import { CONFIRM_TRUE_SPENT_KEY } from "../projects/runtime.ts";
import { formatPlan, planSchema, type SchemaChange } from "../storage/schema/index.ts";
import { EXIT_CONFIG, EXIT_OK } from "./exit-codes.ts";
import { loadRegistryOrReport } from "./plugins.ts";

export interface CheckOptions {
  readonly configPaths: readonly string[];
  readonly dataDir: string | null;
  readonly json: boolean;
  readonly envOptional: boolean;
  readonly env: Record<string, string | undefined>;
  readonly registry: PluginRegistry;
}

export interface CheckIssue {
  readonly file: string;
  readonly path: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly message: string;
}

export interface CheckProjectReport {
  readonly id: string;
  readonly file: string;
  readonly plan: {
    readonly changes: readonly SchemaChange[];
    readonly blocked: boolean;
    readonly plan_id: string | null;
    readonly confirm_note: string | null;
  } | null;
  /** Null without --data. */
  readonly drift: readonly DriftItem[] | null;
}

/** What `check --json` prints. */
export interface CheckReport {
  readonly ok: boolean;
  readonly errors: readonly CheckIssue[];
  readonly warnings: readonly CheckIssue[];
  readonly projects: readonly CheckProjectReport[];
}

function toCheckIssue(i: ConfigIssue): CheckIssue {
  return { file: i.file, path: i.path, line: i.line ?? null, column: i.column ?? null, message: i.message };
}

export function buildCheckReport(opts: CheckOptions): CheckReport {
  const loaded = loadProjects(opts.configPaths, { env: opts.env, registry: opts.registry, envOptional: opts.envOptional });
  const errors = loaded.issues.map(toCheckIssue);
  const warnings = loaded.warnings.map(toCheckIssue);
  if (loaded.projects.length === 0 && errors.length === 0 && warnings.length === 0) {
    errors.push({ file: opts.configPaths.join(", "), path: "", line: null, column: null, message: "no project files found" });
  }
  const projects: CheckProjectReport[] = [];
  for (const config of loaded.projects) {
    const dbPath = opts.dataDir === null ? null : join(opts.dataDir, `${config.id}.db`);
    let db = null;
    try {
      if (dbPath && existsSync(dbPath)) db = openProjectDb(dbPath, { readonly: true, projectId: config.id, nowIso: new Date().toISOString() });
      const settings = db ? createSettingsRepo(db) : null;
      const trueSpentOn = config.confirmDestructive === true ? (settings?.get(CONFIRM_TRUE_SPENT_KEY)?.value ?? null) : null;
      const plan = planSchema(db, config.tables, { confirmDestructive: config.confirmDestructive, trueSpentOn });
      projects.push({
        id: config.id,
        file: config.filePath,
        plan: { changes: plan.changes, blocked: plan.blocked, plan_id: plan.planId, confirm_note: plan.confirmNote },
        drift: opts.dataDir === null ? null : settings ? describeDrift(settings, config, plan) : [],
      });
      if (plan.blocked) {
        const why = plan.conflicts.length > 0
          ? `${plan.conflicts.length} schema change(s) cannot be applied until fixed by hand`
          : plan.confirmNote ?? `destructive changes need confirm_destructive: ${plan.planId}`;
        errors.push({ file: config.filePath, path: "confirm_destructive", line: null, column: null, message: `project ${config.id}: ${why}` });
      } else if (plan.confirmNote !== null) {
        warnings.push({ file: config.filePath, path: "confirm_destructive", line: null, column: null, message: `project ${config.id}: ${plan.confirmNote}` });
      }
    } catch (e) {
      errors.push({ file: config.filePath, path: "", line: null, column: null, message: `project ${config.id}: ${(e as Error).message}` });
      projects.push({ id: config.id, file: config.filePath, plan: null, drift: null });
    } finally {
      db?.close();
    }
  }
  return { ok: errors.length === 0, errors, warnings, projects };
}

function formatIssue(i: CheckIssue): string {
  return formatConfigIssue({ file: i.file, path: i.path, message: i.message, ...(i.line === null ? {} : { line: i.line, column: i.column ?? 1 }) });
}

/** Runs `check`; returns the exit code (2 on any error). */
export function runCheck(opts: CheckOptions, out: { stdout: (s: string) => void; stderr: (s: string) => void }): number {
  const report = buildCheckReport(opts);
  if (opts.json) {
    out.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return report.ok ? EXIT_OK : EXIT_CONFIG;
  }
  for (const p of report.projects) {
    if (p.plan === null) continue;
    const plan = { ...p.plan, destructive: p.plan.changes.filter((c) => c.destructive), conflicts: p.plan.changes.filter((c) => c.conflict), planId: p.plan.plan_id, confirmNote: p.plan.confirm_note };
    out.stdout(`project ${p.id} (${p.file}):\n${formatPlan(plan)}\n`);
    if (p.drift !== null) {
      if (p.drift.length === 0) out.stdout("no drift: the database holds what the file declares\n");
      for (const d of p.drift) out.stdout(`drift: ${d.key} (${d.kind}): ${d.message}\n`);
    }
  }
  for (const w of report.warnings) out.stderr(`config warning: ${formatIssue(w)}\n`);
  for (const e of report.errors) out.stderr(`config error: ${formatIssue(e)}\n`);
  if (!report.ok) out.stderr(`${report.errors.length} error(s).\n`);
  return report.ok ? EXIT_OK : EXIT_CONFIG;
}

/** The `check` command: plugin files first (a project may name them), then `runCheck`. */
export async function runCheckCommand(
  cmd: { configPaths: string[]; dataDir: string | null; json: boolean; envOptional: boolean; pluginDirs: string[] },
  env: Record<string, string | undefined>,
): Promise<number> {
  // With --json, stdout carries only the JSON document.
  const say = cmd.json ? (t: string) => process.stderr.write(t) : (t: string) => process.stdout.write(t);
  const registry = await loadRegistryOrReport(cmd.pluginDirs, (kind, id, file) => say(`plugin ${kind} "${id}" loaded from ${file}\n`));
  if (!registry) return EXIT_CONFIG;
  return runCheck(
    { configPaths: cmd.configPaths, dataDir: cmd.dataDir, json: cmd.json, envOptional: cmd.envOptional, env, registry },
    { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) },
  );
}
