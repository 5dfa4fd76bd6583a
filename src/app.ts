import { Elysia } from "elysia";
import { ApiError, errorBody } from "./http/errors.ts";
import { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, corsHeaders } from "./http/cors.ts";
import { MAX_BODY_BYTES, RequestAbortedError } from "./http/body.ts";
import type { AppContext } from "./http/context.ts";
import { serverRoutes } from "./modules/server/routes.ts";
import { metricsRoutes } from "./modules/server/metrics-route.ts";
import { adminRoutes } from "./modules/admin/routes.ts";
import { adminUsersRoutes } from "./modules/admin-users/routes.ts";
import { consoleRoutes } from "./modules/console/routes.ts";
import { authRoutes } from "./modules/auth-routes.ts";
import { openApiRoutes } from "./modules/openapi/routes.ts";
import type { RegisteredRoute } from "./modules/openapi/document.ts";
import { discoveryRoutes } from "./modules/discovery/routes.ts";
import { hasWellFormedEscapes, rawPathOf, rawProjectSegment } from "./http/request-path.ts";
import { challengeFor } from "./http/www-authenticate.ts";
import { openWaitingForLock, StorageLockedError } from "./http/storage-wait.ts";
import type { Logger } from "./log.ts";
import { auditWritesSettled } from "./projects/audit-trail.ts";
import { isPgUnavailable } from "./storage/postgres/unavailable.ts";
import { PgNotInThisBuildError } from "./storage/postgres/project-store.ts";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
/** Project ids are `^[a-z][a-z0-9-]{1,62}$`: nothing in them ever needs a %-escape. */
const CANONICAL_PROJECT_SEGMENT_RE = /^[^%]*$/;
const NO_ORIGIN: readonly string[] = [];

/** Builds the HTTP app: common headers, CORS, body limit, the error envelope, and every module. */
export function createApp(ctx: AppContext) {
  // CORS follows the project in the path. A project segment is refused unless written exactly as
  // the id (no %-escapes: `/p/%61cc` is not `acc` here), and after routing the id the router
  // resolved must equal that segment (onTransform below), so the project whose origins are
  // checked here is always the project that serves the request.
  const corsFor = (request: Request, projectSegment: string | null): Record<string, string> => {
    if (projectSegment !== null && !CANONICAL_PROJECT_SEGMENT_RE.test(projectSegment)) {
      return corsHeaders(request.headers.get("origin"), NO_ORIGIN);
    }
    if (!ctx.corsOriginLists) return corsHeaders(null, ["*"]);
    const allowed = (projectSegment !== null && ctx.projects.configOf(projectSegment)?.cors.allowedOrigins) || ["*"];
    return corsHeaders(request.headers.get("origin"), allowed);
  };

  const metrics = ctx.metrics?.metrics ?? null;
  const tracked = new WeakMap<Request, { generation: number; startMs: number }>();
  /** The project id of a request path when that project is configured ("" otherwise: no unbounded labels). */
  const knownProjectOf = (request: Request): string => {
    const id = rawProjectSegment(rawPathOf(request.url));
    if (id === null) return "";
    return ctx.projects.has(id) || ctx.failedProjects.has(id) ? id : "";
  };

  // The route table, read by the OpenAPI document once the app exists.
  let registeredRoutes = (): RegisteredRoute[] => [];
  // standardHostname: false — Elysia otherwise assumes a Host of at least 4 characters and
  // routes `Host: a` requests on a wrong path (a 405 naming the very method used). The path is
  // then looked for after `http://`: the server speaks plain HTTP (TLS belongs to the proxy).
  const app = new Elysia({ handler: { standardHostname: false } })
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      set.headers["x-request-id"] = given !== null && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
      set.headers["x-content-type-options"] = "nosniff";
      const path = rawPathOf(request.url);
      const projectSegment = rawProjectSegment(path);
      Object.assign(set.headers, corsFor(request, projectSegment));
      if (!hasWellFormedEscapes(path)) {
        throw new ApiError("NOT_FOUND", { message: "The request path has a malformed %-escape.", suggestion: "Encode the path as UTF-8 with %XX escapes." });
      }
      if (projectSegment !== null && !CANONICAL_PROJECT_SEGMENT_RE.test(projectSegment)) {
        throw new ApiError("PROJECT_NOT_FOUND", { message: "The project id in the path must be written as is, without %-escapes." });
      }
      const len = request.headers.get("content-length");
      if (len !== null && Number(len) > MAX_BODY_BYTES) throw new ApiError("PAYLOAD_TOO_LARGE");
      if (request.method === "OPTIONS") {
        set.headers["access-control-allow-methods"] = CORS_ALLOWED_METHODS;
        set.headers["access-control-allow-headers"] = CORS_ALLOWED_HEADERS;
        set.headers["access-control-max-age"] = "600";
        return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
      }
      // A preflight answered above never reaches onAfterResponse, so only other requests are tracked.
      if (ctx.inflight || metrics) tracked.set(request, { generation: ctx.inflight?.begin() ?? 0, startMs: performance.now() });
    })
    .onTransform(async ({ params, request }) => {
      // The router decodes and normalizes; the raw path is what CORS was computed from.
      const routed = (params as Record<string, string | undefined> | undefined)?.projectId;
      if (routed !== undefined && routed !== rawProjectSegment(rawPathOf(request.url))) throw new ApiError("PROJECT_NOT_FOUND");
      // A closed project is opened here, where a write lock held by another process can be
      // waited for without blocking the event loop (the route handlers then find it open).
      if (routed !== undefined && !ctx.loadingProjects.has(routed)) await openWaitingForLock(ctx.projects, routed);
    })
    // A response never goes out before the audit rows of the events its request logged.
    .onAfterHandle({ as: "global" }, () => auditWritesSettled())
    .onError(({ code, error, set, request }) => {
      const requestId = String(set.headers["x-request-id"] ?? "");
      try {
        let err: ApiError;
        if (error instanceof ApiError) {
          err = error;
          if (error instanceof StorageLockedError) metrics?.recordStorageBusy(knownProjectOf(request));
        }
        else if (code === "NOT_FOUND") err = notFoundOrMethod(request);
        else if (isClientAbort(error, request)) {
          // Nobody is listening any more; not the server's fault, so not an error line.
          ctx.deps.log.debug("request aborted by the client", { request_id: requestId, method: request.method, path: rawPathOf(request.url).slice(0, 200) });
          err = new ApiError("VALIDATION_MALFORMED_JSON", { message: "The request body was cut off." });
        } else if (error instanceof PgNotInThisBuildError) {
          err = new ApiError("SERVICE_UNAVAILABLE", { message: `${error.message}.`, retryAfterSeconds: 3600 });
        } else if (isStorageUnavailable(error)) {
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
        if (err.status === 401) set.headers["www-authenticate"] = challengeFor(err.code);
        if (err.headers) Object.assign(set.headers, err.headers);
        return afterAudit(errorBody(err, requestId));
      } catch (inner) {
        // The error handler itself must never let an error escape to Bun's plain-text 500.
        ctx.deps.log.error("error handler failed", { request_id: requestId, error: describe(inner) });
        set.status = 500;
        set.headers["content-type"] = "application/json";
        return afterAudit(errorBody(new ApiError("INTERNAL_ERROR"), requestId));
      }
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
    .use(adminUsersRoutes(ctx))
    .use(consoleRoutes(ctx))
    .use(authRoutes(ctx))
    .use(discoveryRoutes(ctx))
    .use(openApiRoutes(ctx, () => registeredRoutes()));

  registeredRoutes = (): RegisteredRoute[] => app.routes.map((r) => ({ method: r.method, path: r.path }));

  const patterns = (): { re: RegExp; method: string }[] =>
    app.routes.map((r) => ({
      method: r.method,
      re: new RegExp("^" + r.path.replace(/:[^/]+/g, "[^/]+") + "/?$"),
    }));
  let routeCache: { re: RegExp; method: string }[] | null = null;
  function notFoundOrMethod(request: Request): ApiError {
    const path = rawPathOf(request.url);
    routeCache ??= patterns();
    const allowed = [...new Set(routeCache.filter((r) => r.re.test(path)).map((r) => r.method))];
    // A 405 that names the method used would be a lie: the router missed a path it serves.
    const method = request.method === "HEAD" ? "GET" : request.method;
    if (allowed.length > 0 && !allowed.includes(method)) {
      return new ApiError("METHOD_NOT_ALLOWED", { headers: { allow: [...allowed, "OPTIONS"].join(", ") } });
    }
    const segment = rawProjectSegment(path);
    if (segment !== null && !ctx.projects.has(segment)) return new ApiError("PROJECT_NOT_FOUND");
    return new ApiError("NOT_FOUND");
  }

  return app;
}

/** `value`, once the audit rows of the events logged so far are written (at once when they are). */
function afterAudit<T>(value: T): T | Promise<T> {
  const audited = auditWritesSettled();
  return audited ? audited.then(() => value) : value;
}

/**
 * Bun's `error` callback: answers in the envelope (request id, nosniff) should anything ever
 * escape the app's own error handler, and logs one JSON line instead of Bun's multi-line trace.
 */
export function lastResortResponse(log: Logger, error: unknown): Response {
  const requestId = crypto.randomUUID();
  log.error("unhandled error outside the app", { request_id: requestId, error: describe(error) });
  return new Response(JSON.stringify(errorBody(new ApiError("INTERNAL_ERROR"), requestId)), {
    status: 500,
    headers: { "content-type": "application/json", "x-request-id": requestId, "x-content-type-options": "nosniff" },
  });
}

export type LatchkeyApp = ReturnType<typeof createApp>;

const STORAGE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM)/;

/** A database that is busy, full or failing is a 503 the client may retry, never a 500 (SPEC 5). */
function isStorageUnavailable(error: unknown): boolean {
  if (isPgUnavailable(error)) return true;
  const code = typeof error === "object" && error !== null && "code" in error ? (error as { code: unknown }).code : undefined;
  return typeof code === "string" && STORAGE_UNAVAILABLE.test(code);
}

function isClientAbort(error: unknown, request: Request): boolean {
  if (error instanceof RequestAbortedError) return true;
  return error instanceof Error && error.name === "AbortError" && request.signal.aborted;
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { value: String(error) };
}
