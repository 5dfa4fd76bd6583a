import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { JWKS_MAX_AGE_SECONDS } from "../../config/signing-config.ts";

/**
 * GET /.well-known/jwks.json and /.well-known/openid-configuration (SPEC 13): what a service
 * beside Latchkey needs to verify access tokens offline. Plain JSON documents as the standards
 * define them (no `{data}` envelope), cacheable for the time the key schedule allows for.
 * Outside /auth/*: never behind X-Public-Key, since verifiers hold no project key.
 */
export function discoveryRoutes(ctx: AppContext) {
  const cacheControl = `public, max-age=${JWKS_MAX_AGE_SECONDS}`;
  return new Elysia({ prefix: "/p/:projectId/.well-known" })
    .get("/jwks.json", async ({ params, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      set.headers["cache-control"] = cacheControl;
      set.headers["content-type"] = "application/json";
      return { keys: await p.signer.publicKeys(p.deps.now()) };
    })
    .get("/openid-configuration", ({ params, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      set.headers["cache-control"] = cacheControl;
      set.headers["content-type"] = "application/json";
      return {
        issuer: p.issuer,
        jwks_uri: `${p.issuer}/.well-known/jwks.json`,
      };
    });
}
