import { Elysia } from "elysia";
import { requireProject, type AppContext } from "../../http/context.ts";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { buildOpenApiDocument, type RegisteredRoute } from "./document.ts";

/**
 * GET /p/{id}/openapi.json. The document itself is the body (not wrapped in {data}), as OpenAPI
 * tools expect. Built once per loaded project: its configuration and the route table are fixed.
 */
export function openApiRoutes(ctx: AppContext, routes: () => readonly RegisteredRoute[]) {
  const cache = new WeakMap<ProjectRuntime, string>();
  return new Elysia().get("/p/:projectId/openapi.json", ({ params, set }) => {
    const p = requireProject(ctx, params.projectId);
    let text = cache.get(p);
    if (text === undefined) {
      text = JSON.stringify(buildOpenApiDocument(p.config, routes(), ctx.deps.publicUrl));
      cache.set(p, text);
    }
    set.headers["content-type"] = "application/json";
    return text;
  });
}
