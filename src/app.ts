import { Elysia } from "elysia";
import { ApiError, errorBody } from "./http/errors.ts";
import { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, corsHeaders } from "./http/cors.ts";
import { MAX_BODY_BYTES } from "./http/body.ts";
import type { AppContext } from "./http/context.ts";
import { serverRoutes } from "./modules/server/routes.ts";
import { metricsRoutes } from "./modules/server/metrics-route.ts";
import { adminRoutes } from "./modules/admin/routes.ts";
import { authRoutes } from "./modules/auth-routes.ts";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const PROJECT_PATH_RE = /^\/p\/([^/]+)/;
const ANY_ORIGIN: Record<string, string> = { "access-control-allow-origin": "*" };

/** Builds the HTTP app: common headers, CORS, body limit, the error envelope, and every module. */
export function createApp(ctx: AppContext) {
  // Most deployments keep the default `*`: then no request needs its path parsed for CORS.
  // Read per request: a reload may add or remove the last project that lists its origins.
  const corsFor = (request: Request): Record<string, string> => {
    if (!ctx.corsOriginLists) return ANY_ORIGIN;
    const url = request.url;
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const m = PROJECT_PATH_RE.exec(url.slice(pathStart));
    const allowed = (m && ctx.projects.configOf(m[1])?.cors.allowedOrigins) || ["*"];
    return corsHeaders(request.headers.get("origin"), allowed);
  };

  const metrics = ctx.metrics?.metrics ?? null;
  const tracked = new WeakMap<Request, { generation: number; startMs: number }>();
  /** The project id of a request path when that project is configured ("" otherwise: no unbounded labels). */
  const knownProjectOf = (request: Request): string => {
    const url = request.url;
    const m = PROJECT_PATH_RE.exec(url.slice(url.indexOf("/", url.indexOf("//") + 2)));
    if (!m) return "";
    const id = m[1];
    return ctx.projects.has(id) || ctx.failedProjects.has(id) ? id : "";
  };

  const app = new Elysia()
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      set.headers["x-request-id"] = given !== null && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
      set.headers["x-content-type-options"] = "nosniff";
      Object.assign(set.headers, corsFor(request));
      const method = request.method;
      if (method === "OPTIONS") {
        set.headers["access-control-allow-methods"] = CORS_ALLOWED_METHODS;
        set.headers["access-control-allow-headers"] = CORS_ALLOWED_HEADERS;
        set.headers["access-control-max-age"] = "600";
        return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
      }
      // A preflight answered above never reaches onAfterResponse, so only other requests are tracked.
      if (ctx.inflight || metrics) tracked.set(request, { generation: ctx.inflight?.begin() ?? 0, startMs: performance.now() });
      if (method === "GET") return;
      const len = request.headers.get("content-length");
      if (len !== null && Number(len) > MAX_BODY_BYTES) throw new ApiError("PAYLOAD_TOO_LARGE");
    })
    .onError(({ code, error, set, request }) => {
      const requestId = String(set.headers["x-request-id"] ?? "");
      let err: ApiError;
      if (error instanceof ApiError) err = error;
      else if (code === "NOT_FOUND") err = notFoundOrMethod(request);
      else if (isStorageUnavailable(error)) {
        ctx.deps.log.error("storage unavailable", { request_id: requestId, error: describe(error) });
        metrics?.recordStorageBusy(knownProjectOf(request));
        err = new ApiError("SERVICE_UNAVAILABLE", { message: "Storage is temporarily unavailable.", retryAfterSeconds: 1 });
      } else {
        ctx.deps.log.error("unhandled error", { request_id: requestId, error: describe(error) });
        err = new ApiError("INTERNAL_ERROR");
      }
      set.status = err.status;
      set.headers["content-type"] = "application/json";
      if (err.retryAfterSeconds !== undefined) set.headers["retry-after"] = String(err.retryAfterSeconds);
      if (err.headers) Object.assign(set.headers, err.headers);
      return errorBody(err, requestId);
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set }) => {
      const t = tracked.get(request);
      if (!t) return;
      tracked.delete(request);
      ctx.inflight?.end(t.generation);
      if (!metrics) return;
      const status = typeof set.status === "number" ? set.status : 200;
      // The route template, never the raw path: an unmatched path is one label value.
      const template = typeof route === "string" && route !== "" ? route : "unmatched";
      metrics.recordRequest(knownProjectOf(request), template, request.method, status, (performance.now() - t.startMs) / 1000);
    })
    .use(serverRoutes(ctx))
    .use(metricsRoutes(ctx))
    .use(adminRoutes(ctx))
    .use(authRoutes(ctx));

  const patterns = (): { re: RegExp; method: string }[] =>
    app.routes.map((r) => ({
      method: r.method,
      re: new RegExp("^" + r.path.replace(/:[^/]+/g, "[^/]+") + "/?$"),
    }));
  let routeCache: { re: RegExp; method: string }[] | null = null;
  function notFoundOrMethod(request: Request): ApiError {
    const path = new URL(request.url).pathname;
    routeCache ??= patterns();
    const allowed = [...new Set(routeCache.filter((r) => r.re.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      return new ApiError("METHOD_NOT_ALLOWED", { headers: { allow: [...allowed, "OPTIONS"].join(", ") } });
    }
    const m = PROJECT_PATH_RE.exec(path);
    if (m && !ctx.projects.has(decodeURIComponent(m[1]))) return new ApiError("PROJECT_NOT_FOUND");
    return new ApiError("NOT_FOUND");
  }

  return app;
}

export type LatchkeyApp = ReturnType<typeof createApp>;

const STORAGE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM)/;

/** A database that is busy, full or failing is a 503 the client may retry, never a 500 (SPEC 5). */
function isStorageUnavailable(error: unknown): boolean {
  const code = typeof error === "object" && error !== null && "code" in error ? (error as { code: unknown }).code : undefined;
  return typeof code === "string" && STORAGE_UNAVAILABLE.test(code);
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { value: String(error) };
}
