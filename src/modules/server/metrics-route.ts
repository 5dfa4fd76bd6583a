import { Elysia } from "elysia";
import type { AppContext } from "../../http/context.ts";
import { ApiError } from "../../http/errors.ts";
import { bearerToken } from "../../http/respond.ts";
import { constantTimeEqualHex, sha256Hex } from "../../crypto/digest.ts";

const BEARER_CHALLENGE = { "www-authenticate": 'Bearer realm="metrics"' };
const INVALID_CHALLENGE = { "www-authenticate": 'Bearer realm="metrics", error="invalid_token"' };

/** GET /metrics (`serve --metrics`), behind `LATCHKEY_METRICS_TOKEN` when it is set (SPEC §14). */
export function metricsRoutes(ctx: AppContext) {
  const app = new Elysia();
  const enabled = ctx.metrics;
  if (!enabled) return app;
  // Compared as digests in constant time: the length and content of the token leak nothing.
  const wantDigest = enabled.token === null ? null : sha256Hex(enabled.token);
  return app.get("/metrics", ({ request, set }) => {
    if (wantDigest !== null) {
      const given = bearerToken(request.headers.get("authorization"));
      if (given === null) {
        throw new ApiError("AUTH_REQUIRED", { message: "GET /metrics needs the metrics token.", suggestion: "Send `Authorization: Bearer <LATCHKEY_METRICS_TOKEN>`.", headers: BEARER_CHALLENGE });
      }
      if (!constantTimeEqualHex(sha256Hex(given), wantDigest)) {
        throw new ApiError("AUTH_INVALID_TOKEN", { message: "The metrics token is not valid.", suggestion: "Use the value of LATCHKEY_METRICS_TOKEN.", headers: INVALID_CHALLENGE });
      }
    }
    set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
    set.headers["cache-control"] = "no-store";
    return enabled.metrics.render();
  });
}
