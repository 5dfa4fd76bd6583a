import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { ok } from "../../http/respond.ts";
import { routeLimiter } from "../route-table.ts";
import { parseSignupInput, signup } from "./service.ts";

/** POST /auth/signup (SPEC 6.1). */
export function signupRoutes(ctx: AppContext) {
  const limitSignup = routeLimiter("POST", "/p/:projectId/auth/signup");
  return new Elysia({ prefix: "/p/:projectId/auth" }).post("/signup", async ({ params, request, server, set }) => {
    const p = requireAuthProject(ctx, params.projectId);
    const input = parseSignupInput(p, await readJsonObject(request));
    const client = clientMetaOf(request, ctx.clientIp(request, server), set);
    await limitSignup(p, client);
    const result = await signup(p, input, client);
    return ok(set, result, { status: 201 });
  });
}
