import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { ApiError } from "../../http/errors.ts";
import { ok } from "../../http/respond.ts";
import { clientMetaOf } from "../../http/client-meta.ts";
import { withQueryParam } from "../../mail/links.ts";
import { authenticate } from "../session/authenticate.ts";
import { INVALID_LINK_PAGE, PAGE_HEADERS, RATE_LIMITED_PAGE, VERIFIED_PAGE, renderVerifyPage } from "./page.ts";
import { routeLimiter } from "../route-table.ts";
import { checkVerifyLink, parseResendByEmail, resendVerificationByEmail, resendVerificationForUser, verifyEmail } from "./service.ts";
import { requireLinkToken } from "./token-input.ts";

type VerifyAnswer = "json" | "redirect" | "html";

/**
 * GET /auth/verify (opened from an email, so it can carry no header: no public key, no bearer)
 * and POST /auth/resend-verification (SPEC 6.2).
 */
export function verificationRoutes(ctx: AppContext) {
  const limitVerify = routeLimiter("GET", "/p/:projectId/auth/verify");
  const limitResend = routeLimiter("POST", "/p/:projectId/auth/resend-verification");
  return new Elysia({ prefix: "/p/:projectId/auth" })
    .get("/verify", async ({ params, query, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const accept = request.headers.get("accept") ?? "";
      const redirectTo = p.config.auth.verifyRedirectUrl;
      const answer: VerifyAnswer = accept.includes("application/json") ? "json" : redirectTo ? "redirect" : "html";
      try {
        // A missing token is a malformed request: answered 400 before (and without) rate limiting.
        const token = requireLinkToken(query.token);
        const client = clientMetaOf(request, ctx.clientIp(request, server), set);
        await limitVerify(p, client);
        // Mail scanners send HEAD: answer what GET would, without spending the link.
        if (request.method === "HEAD") await checkVerifyLink(p, token, client);
        else await verifyEmail(p, token, client);
      } catch (e) {
        if (answer === "json" || !(e instanceof ApiError)) throw e;
        if (e.code === "RATE_LIMITED") {
          set.status = 429;
          Object.assign(set.headers, PAGE_HEADERS, { "retry-after": String(e.retryAfterSeconds ?? 60) });
          return renderVerifyPage(p.config.name, RATE_LIMITED_PAGE);
        }
        if (answer === "redirect" && redirectTo) return redirect(set, withQueryParam(redirectTo, "error", "invalid_token"));
        // 409: an email-change link whose new address was taken in between (SPEC 11).
        set.status = e.status === 409 ? 409 : 400;
        Object.assign(set.headers, PAGE_HEADERS);
        return renderVerifyPage(p.config.name, INVALID_LINK_PAGE);
      }
      if (answer === "json") return ok(set, { ok: true });
      if (answer === "redirect" && redirectTo) return redirect(set, withQueryParam(redirectTo, "verified", "true"));
      set.status = 200;
      Object.assign(set.headers, PAGE_HEADERS);
      return renderVerifyPage(p.config.name, VERIFIED_PAGE);
    })
    .post("/resend-verification", async ({ params, request, server, set }) => {
      const p = requireAuthProject(ctx, params.projectId);
      const client = clientMetaOf(request, ctx.clientIp(request, server), set);
      // Without a bearer token, `{email}` is accepted only when unverified users cannot log in.
      if (request.headers.get("authorization") !== null || !p.config.auth.requireVerifiedEmail) {
        const auth = await authenticate(p, request);
        const r = await resendVerificationForUser(p, auth.user, await readJsonObject(request, { allowEmpty: true }), client);
        return ok(set, r.alreadyVerified ? { ok: true, already_verified: true } : { ok: true });
      }
      const email = parseResendByEmail(await readJsonObject(request));
      await limitResend(p, { ip: client.ip, way: "by-email" });
      await resendVerificationByEmail(p, email, client);
      return ok(set, { ok: true });
    });
}

function redirect(set: { status?: number | string; headers: Record<string, string | number> }, location: string): string {
  set.status = 303;
  // The verify URL held a token: do not pass it on to the app as a Referer.
  Object.assign(set.headers, { location, "cache-control": "no-store", "referrer-policy": "no-referrer" });
  return "";
}
