import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { ok } from "../../http/respond.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { authenticate } from "../session/authenticate.ts";
import { endMySession, mySessions } from "./sessions.ts";
import { parseChangeEmail, requestEmailChange } from "./change-email.ts";
import { deleteMyAccount, parseDeleteMe } from "./delete-me.ts";
import { routeLimiter } from "../route-table.ts";

/** The signed-in user's account (SPEC 11): sessions, change of email, deletion. */
export function accountRoutes(ctx: AppContext) {
  const limitChangeEmail = routeLimiter("POST", "/p/:projectId/auth/change-email");
  return new Elysia({ prefix: "/p/:projectId/auth" })
    .get("/sessions", async ({ params, request, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      return ok(set, { sessions: await mySessions(p, auth) });
    })
    .delete("/sessions/:sid", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      await readJsonObject(request, { allowEmpty: true });
      await endMySession(p, auth, params.sid, clientMetaOf(request, ctx.clientIp(request, server), set));
      return ok(set, { ok: true });
    })
    .post("/change-email", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      const input = parseChangeEmail(p, await readJsonObject(request), auth.user.email);
      const client = clientMetaOf(request, ctx.clientIp(request, server), set);
      await limitChangeEmail(p, { ip: client.ip, userId: auth.user.id });
      await requestEmailChange(p, auth, input, client);
      return ok(set, { ok: true });
    })
    .delete("/me", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const auth = await authenticate(p, request);
      const password = parseDeleteMe(await readJsonObject(request));
      await deleteMyAccount(p, auth, password, clientMetaOf(request, ctx.clientIp(request, server), set));
      return ok(set, { ok: true });
    });
}
