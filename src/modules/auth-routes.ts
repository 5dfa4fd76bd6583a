import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../http/context.ts";
import { checkPublicKey } from "../http/public-key.ts";
import { signupRoutes } from "./signup/routes.ts";
import { sessionRoutes } from "./session/routes.ts";
import { passwordRoutes } from "./password/routes.ts";
import { passwordResetRoutes } from "./password-reset/routes.ts";
import { verificationRoutes } from "./verification/routes.ts";
import { accountRoutes } from "./account/routes.ts";

/** A link opened from an email: a browser cannot add X-Public-Key to it. */
const VERIFY_LINK_PATH = /\/auth\/verify\/?$/;

/**
 * Mounts the end-user auth modules (signup, session, password, verification). The hook runs for
 * every route mounted below it (and only those): project with an auth table (404 otherwise) and,
 * with `require_public_key`, the X-Public-Key check — before any body is read.
 */
export function authRoutes(ctx: AppContext) {
  return new Elysia()
    .onBeforeHandle(({ params, request }) => {
      const projectId = (params as Record<string, string | undefined>).projectId ?? "";
      const p = requireAuthProject(ctx, projectId);
      if (!p.config.auth.requirePublicKey) return;
      if (request.method === "GET" && VERIFY_LINK_PATH.test(request.url.split("?")[0])) return;
      checkPublicKey(p, request);
    })
    .use(signupRoutes(ctx))
    .use(sessionRoutes(ctx))
    .use(passwordRoutes(ctx))
    .use(passwordResetRoutes(ctx))
    .use(verificationRoutes(ctx))
    .use(accountRoutes(ctx));
}
