import { Elysia } from "elysia";
import { requireProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { bearerToken, ok } from "../../http/respond.ts";
import { clientMetaOf, eventFields } from "../../http/client-meta.ts";
import { authorizeAdmin, getRedirectOrigins, putRedirectOrigins, rotateJwtSecret, rotateKeys } from "./service.ts";

/** Project admin endpoints (SPEC 6.3), behind the admin key. Never read the key from the URL. */
export function adminRoutes(ctx: AppContext) {
  const admin = (projectId: string, request: Request, server: Parameters<AppContext["clientIp"]>[1]) => {
    const p = requireProject(ctx, projectId);
    const presented = request.headers.get("x-admin-key") ?? bearerToken(request.headers.get("authorization"));
    authorizeAdmin(p, presented, ctx.clientIp(request, server));
    return p;
  };
  return new Elysia({ prefix: "/p/:projectId/v1" })
    .get("/redirect-origins", ({ params, request, server, set }) => {
      const p = admin(params.projectId, request, server);
      return ok(set, { allowed_redirect_origins: getRedirectOrigins(p) });
    })
    .put("/redirect-origins", async ({ params, request, server, set }) => {
      const p = admin(params.projectId, request, server);
      const body = await readJsonObject(request);
      const who = eventFields(clientMetaOf(request, ctx.clientIp(request, server), set));
      return ok(set, { allowed_redirect_origins: putRedirectOrigins(p, body, who) });
    })
    .post("/rotate-keys", async ({ params, request, server, set }) => {
      const p = admin(params.projectId, request, server);
      const body = await readJsonObject(request, { allowEmpty: true });
      return ok(set, rotateKeys(p, body, eventFields(clientMetaOf(request, ctx.clientIp(request, server), set))));
    })
    .post("/rotate-jwt-secret", async ({ params, request, server, set }) => {
      const p = admin(params.projectId, request, server);
      await readJsonObject(request, { allowEmpty: true });
      rotateJwtSecret(p, eventFields(clientMetaOf(request, ctx.clientIp(request, server), set)));
      return ok(set, { rotated: true });
    });
}
