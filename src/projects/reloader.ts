/**
 * What SIGHUP and `serve --watch` trigger: read every project file again and, only if the whole
 * set is valid, hand it to the running server. An invalid set changes nothing; the errors (file
 * and key path, never a secret value) are logged and the metrics record a failed reload.
 */
import type { ConfigIssue, ProjectConfig } from "../config/types.ts";
import { formatConfigIssue } from "../config/load.ts";
import type { Logger } from "../log.ts";
import type { ReloadResult, ServerMetrics } from "../metrics/server-metrics.ts";
import type { ReloadReport } from "./reload.ts";

export interface ReloaderOptions {
  /** Reads and validates every project file (the same loader as boot). */
  load(): { projects: ProjectConfig[]; issues: ConfigIssue[] };
  apply(configs: readonly ProjectConfig[]): Promise<ReloadReport>;
  readonly log: Logger;
  readonly metrics?: ServerMetrics;
  /** Keys generated for a new project, printed once like at boot. */
  onGeneratedKeys?(id: string, keys: { admin?: string; public?: string }): void;
}

export interface Reloader {
  /** Starts a reload, or schedules one more after the running one (requests are coalesced). */
  request(reason: string): Promise<void>;
}

export function createReloader(opts: ReloaderOptions): Reloader {
  let running: Promise<void> | null = null;
  let again: string | null = null;

  const once = async (reason: string): Promise<void> => {
    const record = (result: ReloadResult): void => opts.metrics?.recordReload(result);
    let loaded: { projects: ProjectConfig[]; issues: ConfigIssue[] };
    try {
      loaded = opts.load();
    } catch (e) {
      loaded = { projects: [], issues: [{ file: "", path: "", message: e instanceof Error ? e.message : String(e) }] };
    }
    if (loaded.issues.length === 0 && loaded.projects.length === 0) {
      loaded.issues.push({ file: "", path: "", message: "no project files found" });
    }
    if (loaded.issues.length > 0) {
      record("failed");
      opts.log.error("configuration reload failed; the previous configuration keeps serving", {
        reason,
        errors: loaded.issues.map(formatConfigIssue),
      });
      return;
    }
    try {
      const report = await opts.apply(loaded.projects);
      for (const [id, keys] of report.generatedKeys) opts.onGeneratedKeys?.(id, keys);
      const complete = report.kept.length === 0 && report.failed.length === 0;
      record(complete ? "ok" : "partial");
      opts.log.log(complete ? "info" : "warn", complete ? "configuration reloaded" : "configuration reloaded, except the projects listed", {
        reason,
        added: report.added,
        changed: report.changed,
        removed: report.removed,
        unchanged: report.unchanged.length,
        kept_previous: report.kept.map((k) => ({ project: k.id, file: k.file, reason: k.message })),
        failed: report.failed.map((k) => ({ project: k.id, file: k.file, reason: k.message })),
      });
    } catch (e) {
      record("failed");
      opts.log.error("configuration reload failed", { reason, error: e instanceof Error ? e.message : String(e) });
    }
  };

  const request = (reason: string): Promise<void> => {
    if (running) {
      again = reason;
      return running;
    }
    running = (async () => {
      let next: string | null = reason;
      while (next !== null) {
        again = null;
        await once(next);
        next = again;
      }
    })().finally(() => {
      running = null;
    });
    return running;
  };
  return { request };
}
