import { Elysia } from "elysia";
import type { AppContext } from "../../http/context.ts";
import { ApiError } from "../../http/errors.ts";

/** GET /healthz (process up) and GET /readyz (every project loaded). */
export function serverRoutes(ctx: AppContext) {
  return new Elysia()
    .get("/healthz", () => ({ data: { status: "ok" } }))
    .get("/readyz", () => {
      if (!ctx.isReady()) {
        throw new ApiError("SERVICE_UNAVAILABLE", { message: "Projects are still loading.", retryAfterSeconds: 1 });
      }
      return { data: { status: "ready" } };
    });
}
