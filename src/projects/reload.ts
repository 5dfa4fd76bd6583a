/**
 * Applying a new set of project files to a running server (SPEC §14). The caller has already
 * validated the whole set; here each project is added, changed, removed or left alone. A changed
 * project that is open is rebuilt on its open database connection and swapped in; a closed one is
 * checked (opened, schema applied, closed). If that fails (a refused destructive change, say) it
 * keeps serving its previous configuration. A removed project answers 404 at once; an open
 * database closes once the requests that started before have ended.
 */
import type { ProjectConfig } from "../config/types.ts";
import type { ServerDeps } from "./runtime.ts";
import type { ProjectPool } from "./pool.ts";

export interface ProjectSet {
  readonly projects: ProjectPool;
  readonly failedProjects: Map<string, string>;
  /** Projects removed by a reload, since boot (metrics: `latchkey_projects{state="closed"}`). */
  closedCount: number;
}

export interface ReloadProblem {
  readonly id: string;
  readonly file: string;
  readonly message: string;
}

export interface ReloadReport {
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
  readonly unchanged: string[];
  /** Changed projects that could not be applied and keep their previous configuration. */
  readonly kept: ReloadProblem[];
  /** New (or previously failed) projects that could not load. */
  readonly failed: ReloadProblem[];
  readonly generatedKeys: Map<string, { admin?: string; public?: string }>;
}

export interface ReloadDeps {
  readonly deps: ServerDeps;
}

/** Two configurations are the same when every parsed value is (secrets included, in memory only). */
function sameConfig(a: ProjectConfig, b: ProjectConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function reloadProjects(set: ProjectSet, configs: readonly ProjectConfig[], r: ReloadDeps): Promise<ReloadReport> {
  const report: ReloadReport = { added: [], changed: [], removed: [], unchanged: [], kept: [], failed: [], generatedKeys: new Map() };
  const log = r.deps.log;
  const wanted = new Set(configs.map((c) => c.id));
  const pool = set.projects;

  for (const config of configs) {
    const old = pool.configOf(config.id);
    if (old && sameConfig(old, config)) {
      report.unchanged.push(config.id);
      continue;
    }
    try {
      if (old) {
        const { generatedKeys } = await pool.replace(config);
        if (generatedKeys.admin || generatedKeys.public) report.generatedKeys.set(config.id, generatedKeys);
        report.changed.push(config.id);
      } else {
        await pool.add(config, { check: true, onGeneratedKeys: (keys) => report.generatedKeys.set(config.id, keys) });
        set.failedProjects.delete(config.id);
        report.added.push(config.id);
      }
    } catch (e) {
      const problem = { id: config.id, file: config.filePath, message: messageOf(e) };
      if (old) {
        report.kept.push(problem);
        log.error("project keeps its previous configuration", { project: config.id, file: config.filePath, reason: problem.message });
      } else {
        report.failed.push(problem);
        set.failedProjects.set(config.id, problem.message);
        log.error("project failed to load", { project: config.id, file: config.filePath, reason: problem.message });
      }
    }
  }

  for (const id of [...pool.keys()]) {
    if (wanted.has(id)) continue;
    pool.remove(id);
    set.closedCount++;
    report.removed.push(id);
  }
  for (const id of [...set.failedProjects.keys()]) if (!wanted.has(id)) set.failedProjects.delete(id);
  return report;
}
