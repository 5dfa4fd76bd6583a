/** What every admin-key route does before its service: the project, who asks, and the key check. */
import { requireProject, type AppContext } from "../../http/context.ts";
import { bearerToken, type ResponseSet } from "../../http/respond.ts";
import { clientMetaOf, type ClientMeta } from "../../http/client-meta.ts";
import { waitForStorage } from "../../http/storage-wait.ts";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { authorizeAdmin, type AdminGrant } from "./service.ts";

type Server = Parameters<AppContext["clientIp"]>[1];

/**
 * Checks the admin key (`X-Admin-Key`, or `Authorization: Bearer sk_...`; never the URL). Admin
 * events carry the client IP and request id like every other security event.
 */
export async function authorizeAdminRequest(
  ctx: AppContext,
  projectId: string,
  request: Request,
  server: Server,
  set: ResponseSet,
): Promise<{ p: ProjectRuntime; client: ClientMeta; grant: AdminGrant }> {
  const p = requireProject(ctx, projectId);
  const client = clientMetaOf(request, ctx.clientIp(request, server), set);
  const presented = request.headers.get("x-admin-key") ?? bearerToken(request.headers.get("authorization"));
  return { p, client, grant: await authorizeAdmin(p, presented, client) };
}

/** Before-handle hook: a write to a project whose database another process holds waits (asynchronously), then 503. */
export function waitForAdminWrite(ctx: AppContext) {
  return async ({ params, request }: { params: { projectId: string }; request: Request }): Promise<void> => {
    const p = requireProject(ctx, params.projectId);
    if (request.method !== "GET") await waitForStorage(p);
  };
}
