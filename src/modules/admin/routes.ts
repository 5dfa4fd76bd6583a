import { Elysia } from "elysia";
import type { AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { ok, type ResponseSet } from "../../http/respond.ts";
import { authorizeAdminRequest, waitForAdminWrite } from "./guard.ts";
import { getRedirectOrigins, putRedirectOrigins, rotateJwtSecret, rotateKeys } from "./service.ts";

/** Project admin endpoints (SPEC 6.3), behind the admin key. Never read the key from the URL. */
export function adminRoutes(ctx: AppContext) {
  const admin = (projectId: string, request: Request, server: Parameters<AppContext["clientIp"]>[1], set: ResponseSet) =>
    authorizeAdminRequest(ctx, projectId, request, server, set);
  return new Elysia({ prefix: "/p/:projectId/v1" })
    .onBeforeHandle(waitForAdminWrite(ctx))
    .get("/redirect-origins", async ({ params, request, server, set }) => {
      const { p } = await admin(params.projectId, request, server, set);
      return ok(set, { allowed_redirect_origins: await getRedirectOrigins(p) });
    })
    .put("/redirect-origins", async ({ params, request, server, set }) => {
      const { p, client } = await admin(params.projectId, request, server, set);
      const body = await readJsonObject(request);
      return ok(set, { allowed_redirect_origins: await putRedirectOrigins(p, body, client) });
    })
    .post("/rotate-keys", async ({ params, request, server, set }) => {
      const { p, client, grant } = await admin(params.projectId, request, server, set);
      const body = await readJsonObject(request, { allowEmpty: true });
      return ok(set, await rotateKeys(p, body, grant, client));
    })
    .post("/rotate-jwt-secret", async ({ params, request, server, set }) => {
      const { p, client } = await admin(params.projectId, request, server, set);
      await rotateJwtSecret(p, await readJsonObject(request, { allowEmpty: true }), client);
      return ok(set, { rotated: true });
    });
}
