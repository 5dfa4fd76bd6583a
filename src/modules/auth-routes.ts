import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../http/context.ts";
import { checkPublicKey } from "../http/public-key.ts";
import { waitForStorage } from "../http/storage-wait.ts";
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
    .onBeforeHandle(async ({ params, request }) => {
      const projectId = (params as Record<string, string | undefined>).projectId ?? "";
      const p = requireAuthProject(ctx, projectId);
      const path = request.url.split("?")[0];
      const linkOpened = (request.method === "GET" || request.method === "HEAD") && VERIFY_LINK_PATH.test(path);
      if (p.config.auth.requirePublicKey && !linkOpened) checkPublicKey(p, request);
      // Reads are never blocked by another process's write lock (WAL): only requests that write
      // (every method but GET and HEAD, and a GET of the verification link) wait for it.
      if ((request.method !== "GET" && request.method !== "HEAD") || (request.method === "GET" && linkOpened)) await waitForStorage(p);
    })
    .use(signupRoutes(ctx))
    .use(sessionRoutes(ctx))
    .use(passwordRoutes(ctx))
    .use(passwordResetRoutes(ctx))
    .use(verificationRoutes(ctx))
    .use(accountRoutes(ctx));
}
