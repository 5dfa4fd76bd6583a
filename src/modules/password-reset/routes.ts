import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { ok } from "../../http/respond.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { requestPasswordReset, resetPassword } from "./service.ts";

/** POST forgot-password, POST reset-password (SPEC 6.1). */
export function passwordResetRoutes(ctx: AppContext) {
  return new Elysia({ prefix: "/p/:projectId/auth" })
    .post("/forgot-password", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const body = await readJsonObject(request);
      await requestPasswordReset(p, body, clientMetaOf(request, ctx.clientIp(request, server), set));
      return ok(set, { ok: true });
    })
    .post("/reset-password", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const body = await readJsonObject(request);
      await resetPassword(p, body, clientMetaOf(request, ctx.clientIp(request, server), set));
      return ok(set, { ok: true });
    });
}
