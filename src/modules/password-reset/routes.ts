import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { ok } from "../../http/respond.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { routeLimiter } from "../route-table.ts";
import { parseForgotPassword, parseResetPassword, requestPasswordReset, resetPassword } from "./service.ts";

/** POST forgot-password, POST reset-password (SPEC 6.1). */
export function passwordResetRoutes(ctx: AppContext) {
  const limitForgot = routeLimiter("POST", "/p/:projectId/auth/forgot-password");
  const limitReset = routeLimiter("POST", "/p/:projectId/auth/reset-password");
  return new Elysia({ prefix: "/p/:projectId/auth" })
    .post("/forgot-password", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const input = parseForgotPassword(p, await readJsonObject(request));
      const client = clientMetaOf(request, ctx.clientIp(request, server), set);
      await limitForgot(p, client);
      await requestPasswordReset(p, input, client);
      return ok(set, { ok: true });
    })
    .post("/reset-password", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const input = parseResetPassword(p, await readJsonObject(request));
      const client = clientMetaOf(request, ctx.clientIp(request, server), set);
      await limitReset(p, client);
      await resetPassword(p, input, client);
      return ok(set, { ok: true });
    });
}
