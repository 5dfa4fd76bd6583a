import type { ProjectRuntime, ServerDeps } from "../projects/runtime.ts";
import type { ProjectPool } from "../projects/pool.ts";
import { ProjectOpenError } from "../storage/open-error.ts";
import { ApiError } from "./errors.ts";
import type { InflightTracker } from "./inflight.ts";
import type { ServerMetrics } from "../metrics/server-metrics.ts";

/** What route modules receive from the composition root. */
export interface AppContext {
  readonly deps: ServerDeps;
  /** Every loaded project; `get` opens a closed one (projects/pool.ts). */
  readonly projects: ProjectPool;
  /** True when some project lists its CORS origins (otherwise every answer allows `*`). */
  readonly corsOriginLists: boolean;
  /** True once every project is loaded (GET /readyz). */
  isReady(): boolean;
  /** Projects whose file is valid but that could not load (blocked migration, foreign database...). */
  readonly failedProjects: ReadonlyMap<string, string>;
  /** Projects whose file is valid and that are still loading (serve opens the port first). */
  readonly loadingProjects: ReadonlyMap<string, unknown>;
  /** Requests in flight, so a reload closes a removed project's database only after them. */
  readonly inflight?: InflightTracker;
  /** `serve --metrics`: the registry and the bearer token GET /metrics needs (null: none). */
  readonly metrics?: { readonly metrics: ServerMetrics; readonly token: string | null };
  /** The client IP (socket peer, X-Forwarded-For only from trusted proxies). */
  clientIp(request: Request, server: { requestIP(r: Request): { address: string } | null } | null): string;
}

export function requireProject(ctx: AppContext, projectId: string): ProjectRuntime {
  let p: ProjectRuntime | undefined;
  if (!ctx.loadingProjects.has(projectId)) {
    try {
      p = ctx.projects.get(projectId);
    } catch (e) {
      if (e instanceof ProjectOpenError) {
        throw new ApiError("SERVICE_UNAVAILABLE", { message: "Storage is temporarily unavailable.", retryAfterSeconds: 1 });
      }
      // A first open that failed: the project is now among the failed ones (answered below).
      if (!ctx.failedProjects.has(projectId)) throw e;
    }
  }
  if (!p && ctx.loadingProjects.has(projectId)) {
    throw new ApiError("SERVICE_UNAVAILABLE", { message: `Project "${projectId}" is still loading.`, retryAfterSeconds: 1 });
  }
  if (!p && ctx.failedProjects.has(projectId)) {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      message: `Project "${projectId}" did not load; the server log says why.`,
      suggestion: "Fix the project (see `latchkey check`), then reload (SIGHUP) or restart.",
      retryAfterSeconds: 60,
    });
  }
  if (!p) throw new ApiError("PROJECT_NOT_FOUND", { message: `No project "${projectId.slice(0, 64)}" is loaded.` });
  return p;
}

/** The project, which must have an auth table (SPEC 6.1: otherwise 404 AUTH_NOT_ENABLED). */
export function requireAuthProject(ctx: AppContext, projectId: string): ProjectRuntime & { config: { authTableName: string } } {
  const p = requireProject(ctx, projectId);
  if (p.config.authTableName === null) throw new ApiError("AUTH_NOT_ENABLED");
  return p as ProjectRuntime & { config: { authTableName: string } };
}
