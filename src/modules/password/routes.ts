import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { ok } from "../../http/respond.ts";
import { authenticate } from "../session/authenticate.ts";
import { changePassword, parseChangePasswordInput } from "./change-password.ts";

/** POST /auth/change-password (SPEC 6.1). */
export function passwordRoutes(ctx: AppContext) {
  return new Elysia({ prefix: "/p/:projectId/auth" }).post("/change-password", async ({ params, request, server, set }) => {
    const p = requireAuthProject(ctx, params.projectId);
    const auth = await authenticate(p, request);
    const input = parseChangePasswordInput(p, await readJsonObject(request));
    const grant = await changePassword(p, auth, input, clientMetaOf(request, ctx.clientIp(request, server), set));
    return ok(set, { ok: true, ...grant });
  });
}
