import { Elysia } from "elysia";
import { requireProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { bearerToken, ok, type ResponseSet } from "../../http/respond.ts";
import { clientMetaOf, type ClientMeta } from "../../http/client-meta.ts";
import { waitForStorage } from "../../http/storage-wait.ts";
import { authorizeAdmin, getRedirectOrigins, putRedirectOrigins, rotateJwtSecret, rotateKeys } from "./service.ts";

/** Project admin endpoints (SPEC 6.3), behind the admin key. Never read the key from the URL. */
export function adminRoutes(ctx: AppContext) {
  // Admin events carry the client IP and request id like every other security event.
  const admin = (projectId: string, request: Request, server: Parameters<AppContext["clientIp"]>[1], set: ResponseSet) => {
    const p = requireProject(ctx, projectId);
    const client: ClientMeta = clientMetaOf(request, ctx.clientIp(request, server), set);
    const presented = request.headers.get("x-admin-key") ?? bearerToken(request.headers.get("authorization"));
    const grant = authorizeAdmin(p, presented, client);
    return { p, client, grant };
  };
  return new Elysia({ prefix: "/p/:projectId/v1" })
    // A project whose database another process holds waits here (asynchronously), then 503.
    .onBeforeHandle(async ({ params, request }) => {
      const p = requireProject(ctx, params.projectId);
      if (request.method !== "GET") await waitForStorage(p);
    })
    .get("/redirect-origins", ({ params, request, server, set }) => {
      const { p } = admin(params.projectId, request, server, set);
      return ok(set, { allowed_redirect_origins: getRedirectOrigins(p) });
    })
    .put("/redirect-origins", async ({ params, request, server, set }) => {
      const { p, client } = admin(params.projectId, request, server, set);
      const body = await readJsonObject(request);
      return ok(set, { allowed_redirect_origins: putRedirectOrigins(p, body, client) });
    })
    .post("/rotate-keys", async ({ params, request, server, set }) => {
      const { p, client, grant } = admin(params.projectId, request, server, set);
      const body = await readJsonObject(request, { allowEmpty: true });
      return ok(set, rotateKeys(p, body, grant, client));
    })
    .post("/rotate-jwt-secret", async ({ params, request, server, set }) => {
      const { p, client } = admin(params.projectId, request, server, set);
      rotateJwtSecret(p, await readJsonObject(request, { allowEmpty: true }), client);
      return ok(set, { rotated: true });
    });
}
