/**
 * Applying a new set of project files to a running server (SPEC §14). The caller has already
 * validated the whole set; here each project is added, changed, removed or left alone. A changed
 * project is rebuilt on its open database connection and swapped in; if that fails (a refused
 * destructive change, say) it keeps serving its previous configuration. A removed project
 * answers 404 at once; its database closes once the requests that started before have ended.
 */
import type { ProjectConfig } from "../config/types.ts";
import type { InflightTracker } from "../http/inflight.ts";
import { loadProjectRuntime, type ProjectRuntime, type ServerDeps } from "./runtime.ts";

/** How long a removed project's database waits for the requests that may still use it. */
export const REMOVED_PROJECT_DRAIN_MS = 30_000;

export interface ProjectSet {
  readonly projects: Map<string, ProjectRuntime>;
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
  /** Starts a new runtime's background work (mail sender, housekeeping). */
  startBackground(runtime: ProjectRuntime): void;
  readonly inflight?: InflightTracker;
  readonly drainMs?: number;
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
  const released: Promise<void>[] = [];
  const wanted = new Set(configs.map((c) => c.id));

  for (const config of configs) {
    const old = set.projects.get(config.id);
    if (old && sameConfig(old.config, config)) {
      report.unchanged.push(config.id);
      continue;
    }
    try {
      const loaded = loadProjectRuntime(config, r.deps, old ? { db: old.db } : {});
      // One synchronous swap: a request that looks the project up from now on gets the new runtime.
      set.projects.set(config.id, loaded.runtime);
      set.failedProjects.delete(config.id);
      r.startBackground(loaded.runtime);
      void loaded.runtime.hashes.prepareDummy().catch(() => undefined);
      if (loaded.generatedKeys.admin || loaded.generatedKeys.public) report.generatedKeys.set(config.id, loaded.generatedKeys);
      if (old) {
        report.changed.push(config.id);
        released.push(old.release());
      } else {
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

  for (const [id, runtime] of [...set.projects]) {
    if (wanted.has(id)) continue;
    set.projects.delete(id);
    set.closedCount++;
    report.removed.push(id);
    released.push(runtime.release());
    const drained = r.inflight ? r.inflight.drained(r.drainMs ?? REMOVED_PROJECT_DRAIN_MS) : Promise.resolve();
    // Not awaited: the reload is done once the project answers 404; its file closes in the background.
    void drained.then(() => {
      runtime.db.close();
      log.info("database of a removed project closed (the file is kept)", { project: id });
    });
  }
  for (const id of [...set.failedProjects.keys()]) if (!wanted.has(id)) set.failedProjects.delete(id);

  await Promise.all(released.map((p) => p.catch((e: unknown) => log.warn("stopping a replaced project's background work failed", { error: messageOf(e) }))));
  return report;
}
