import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { ok } from "../../http/respond.ts";
import { routeLimiter } from "../route-table.ts";
import { userModelOf } from "../../users/model.ts";
import { authenticate } from "./authenticate.ts";
import { forwardAuth, parseForwardOptions } from "./forward.ts";
import { login, parseLoginInput } from "./login.ts";
import { logout, parseLogoutInput } from "./logout.ts";
import { parseProfilePatch, updateProfile } from "./me.ts";
import { parseRefreshInput, refreshSession } from "./refresh.ts";

/** POST login, POST refresh, GET/PATCH me, POST logout (SPEC 6.1); GET|HEAD forward (SPEC 13). */
export function sessionRoutes(ctx: AppContext) {
  const limitLogin = routeLimiter("POST", "/p/:projectId/auth/login");
  return new Elysia({ prefix: "/p/:projectId/auth" })
    .post("/login", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const input = parseLoginInput(await readJsonObject(request));
      const client = clientMetaOf(request, ctx.clientIp(request, server), set);
      await limitLogin(p, client);
      return ok(set, await login(p, input, client));
    })
    .post("/refresh", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const token = parseRefreshInput(await readJsonObject(request));
      return ok(set, await refreshSession(p, token, clientMetaOf(request, ctx.clientIp(request, server), set)));
    })
    .get("/me", async ({ params, request, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      return ok(set, { user: userModelOf(p).toPublic(auth.user) });
    })
    // HEAD is answered by this GET route too (same headers, no body).
    .get("/forward", async ({ params, query, request, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      Object.assign(set.headers, await forwardAuth(p, request, parseForwardOptions(query)));
      set.headers["cache-control"] = "no-store";
      set.status = 200;
      return "";
    })
    .patch("/me", async ({ params, request, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      const values = parseProfilePatch(p, await readJsonObject(request));
      return ok(set, { user: await updateProfile(p, auth, values) });
    })
    .post("/logout", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      const opts = parseLogoutInput(await readJsonObject(request, { allowEmpty: true }));
      await logout(p, auth, opts, clientMetaOf(request, ctx.clientIp(request, server), set));
      return ok(set, { ok: true });
    });
}
