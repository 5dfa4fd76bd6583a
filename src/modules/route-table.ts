/**
 * Every route of the HTTP API in one list, with the rate limits (SPEC 9.5) each one applies.
 *
 * Two kinds of limits:
 *  - `limits`: counted per request by the handler between parsing and the service, through
 *    `applyRouteLimits` (src/http/rate-limit.ts), which the handler gets from `routeLimiter()`
 *    below. Parsing comes first, so a malformed request is 400 and counts toward no limit (SPEC 5).
 *  - `inFlow`: limits that cannot sit in front of the service, because what they count is only
 *    known inside it (a wrong password, a wrong admin key, one session's rotation, one address's
 *    mails) or because they must move with the service's transaction. Each names the function
 *    that counts it (`where`, `file#export` under src/modules/) and why it lives there.
 *
 * `handler` names the function that does the route's work (`file#export` under src/modules/);
 * `auth` says who may call it (the check itself sits in the handler or its module's hook).
 * Routes are matched by method and the path exactly as registered (test/foundation/route-table.test.ts
 * checks that the app registers exactly these routes, that every name here resolves, and that a
 * request without credentials is refused by every route whose `auth` says so).
 */
import type { RateLimitName } from "../config/types.ts";
import { applyRouteLimits, type RouteLimit, type RouteLimitSubject } from "../http/rate-limit.ts";
import type { ProjectRuntime } from "../projects/runtime.ts";

export interface InFlowLimit {
  readonly rule: RateLimitName;
  /** `file#export` under src/modules/: the function that counts the rule. */
  readonly where: string;
  readonly why: string;
}

/**
 * Who may call a route: anyone (`none`), a signed-in user (`bearer` access token), a signed-in
 * user or, with require_verified_email, anyone giving an address (`bearer-or-email`), the admin
 * key (`admin`), a console session cookie (`console`), the metrics token when one is set (`metrics`).
 */
export type RouteAuth = "none" | "bearer" | "bearer-or-email" | "admin" | "console" | "metrics";

export interface RouteEntry {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The path as registered with the router (`/p/:projectId/...`). */
  readonly path: string;
  /** `file#export` under src/modules/. */
  readonly handler: string;
  readonly auth: RouteAuth;
  readonly limits: readonly RouteLimit[];
  readonly inFlow: readonly InFlowLimit[];
}

const P = "/p/:projectId";

const perIp = (rule: RateLimitName, only?: string): RouteLimit => (only === undefined ? { rule, per: "ip" } : { rule, per: "ip", only });
const perUser = (rule: RateLimitName): RouteLimit => ({ rule, per: "user" });

function route(
  method: RouteEntry["method"],
  path: string,
  handler: string,
  auth: RouteAuth,
  limits: readonly RouteLimit[] = [],
  inFlow: readonly InFlowLimit[] = [],
): RouteEntry {
  return { method, path, handler, auth, limits, inFlow };
}

// ---- The limits that stay inside the flow, each named once ----

/** Counted before the password check and taken back on success: N parallel guesses count N. */
const LOGIN_FAILURES: InFlowLimit = {
  rule: "login_failures_per_account",
  where: "session/login.ts#login",
  why: "counts guesses: hit before the password is verified, taken back when it was right (or when no hash ran)",
};
const PASSWORD_GUESS: InFlowLimit = { ...LOGIN_FAILURES, where: "account/guess.ts#checkPasswordGuess" };
const CHANGE_PASSWORD_GUESS: InFlowLimit = { ...LOGIN_FAILURES, where: "password/change-password.ts#changePassword" };

/** Only a wrong key counts: the right key is never refused (all clients may share one proxy IP). */
const ADMIN_KEY_FAILURES: InFlowLimit = {
  rule: "admin_key_failures_per_ip",
  where: "admin/service.ts#authorizeAdmin",
  why: "counts wrong admin keys only, which only the key check knows; the right key is never limited",
};

const REFRESH_PER_SESSION: InFlowLimit = {
  rule: "refresh_per_session",
  where: "session/refresh-tokens.ts#rotateRefreshToken",
  why: "keyed on the session the token belongs to, known only once the token is found, inside the rotation's transaction",
};

const FORGOT_PER_EMAIL: InFlowLimit = {
  rule: "forgot_password_per_email",
  where: "password-reset/service.ts#requestPasswordReset",
  why: "a silent mail cap (still 200, no mail, SPEC 9.4): counted in the transaction that queues the mail, for known and unknown emails alike",
};

const RESEND_PER_USER: InFlowLimit = {
  rule: "resend_verification_per_user",
  where: "verification/service.ts#resendVerificationForUser",
  why: "counts resends only (not the signup mail, not an already verified user), in the transaction that queues the mail, so a refusal rolls back with it",
};
const RESEND_PER_USER_BY_EMAIL: InFlowLimit = {
  ...RESEND_PER_USER,
  where: "verification/service.ts#resendVerificationByEmail",
  why: "a silent mail cap keyed on the user found by the address (still 200, SPEC 9.4), counted in the transaction that queues the mail",
};

/** Every route of the admin API checks the admin key first. */
const admin = (method: RouteEntry["method"], path: string, handler: string): RouteEntry => route(method, `${P}/v1${path}`, handler, "admin", [], [ADMIN_KEY_FAILURES]);
/** Console pages that need no session: the assets, the redirect at the root, the sign-in form. */
const openConsolePage = (method: RouteEntry["method"], path: string, handler: string): RouteEntry => route(method, `${P}/admin${path}`, handler, "none");
/** Console pages: behind the console session cookie (the admin key is only posted to sign in). */
const consolePage = (method: RouteEntry["method"], path: string, handler: string): RouteEntry => route(method, `${P}/admin${path}`, handler, "console");

export const ROUTE_TABLE: readonly RouteEntry[] = [
  // Server
  route("GET", "/healthz", "server/routes.ts#serverRoutes", "none"),
  route("GET", "/readyz", "server/routes.ts#serverRoutes", "none"),
  route("GET", "/metrics", "server/metrics-route.ts#metricsRoutes", "metrics"), // only with `serve --metrics`

  // End users (SPEC 6.1, 6.2, 11, 13)
  route("POST", `${P}/auth/signup`, "signup/service.ts#signup", "none", [perIp("signup_per_ip")]),
  route("POST", `${P}/auth/login`, "session/login.ts#login", "none", [perIp("login_per_ip")], [LOGIN_FAILURES]),
  route("POST", `${P}/auth/refresh`, "session/refresh.ts#refreshSession", "none", [], [REFRESH_PER_SESSION]),
  route("GET", `${P}/auth/me`, "session/routes.ts#sessionRoutes", "bearer"),
  route("PATCH", `${P}/auth/me`, "session/me.ts#updateProfile", "bearer"),
  route("GET", `${P}/auth/forward`, "session/forward.ts#forwardAuth", "bearer"), // HEAD too
  route("POST", `${P}/auth/logout`, "session/logout.ts#logout", "bearer"),
  route("POST", `${P}/auth/change-password`, "password/change-password.ts#changePassword", "bearer", [], [CHANGE_PASSWORD_GUESS]),
  route("POST", `${P}/auth/forgot-password`, "password-reset/service.ts#requestPasswordReset", "none", [perIp("forgot_password_per_ip")], [FORGOT_PER_EMAIL]),
  route("POST", `${P}/auth/reset-password`, "password-reset/service.ts#resetPassword", "none", [perIp("link_per_ip")]),
  // GET consumes the link, HEAD (mail scanners) only checks it: both count.
  route("GET", `${P}/auth/verify`, "verification/service.ts#verifyEmail", "none", [perIp("link_per_ip")]),
  // With a bearer token the user is known (per-user cap in flow); `{email}` alone counts per IP first.
  route("POST", `${P}/auth/resend-verification`, "verification/service.ts#resendVerificationForUser", "bearer-or-email", [perIp("resend_verification_per_ip", "by-email")], [RESEND_PER_USER, RESEND_PER_USER_BY_EMAIL]),
  route("GET", `${P}/auth/sessions`, "account/sessions.ts#mySessions", "bearer"),
  route("DELETE", `${P}/auth/sessions/:sid`, "account/sessions.ts#endMySession", "bearer"),
  route("POST", `${P}/auth/change-email`, "account/change-email.ts#requestEmailChange", "bearer", [perUser("change_email_per_user")], [PASSWORD_GUESS]),
  route("DELETE", `${P}/auth/me`, "account/delete-me.ts#deleteMyAccount", "bearer", [], [PASSWORD_GUESS]),
  route("GET", `${P}/.well-known/jwks.json`, "discovery/routes.ts#discoveryRoutes", "none"),
  route("GET", `${P}/.well-known/openid-configuration`, "discovery/routes.ts#discoveryRoutes", "none"),
  route("GET", `${P}/openapi.json`, "openapi/document.ts#buildOpenApiDocument", "none"),

  // Admin API (SPEC 6.3, 12)
  admin("GET", "/redirect-origins", "admin/service.ts#getRedirectOrigins"),
  admin("PUT", "/redirect-origins", "admin/service.ts#putRedirectOrigins"),
  admin("POST", "/rotate-keys", "admin/service.ts#rotateKeys"),
  admin("POST", "/rotate-jwt-secret", "admin/service.ts#rotateJwtSecret"),
  admin("GET", "/users", "admin-users/list.ts#listUsers"),
  admin("POST", "/users", "admin-users/service.ts#createUser"),
  admin("GET", "/users/:id", "admin-users/service.ts#getUser"),
  admin("PATCH", "/users/:id", "admin-users/service.ts#patchUser"),
  admin("DELETE", "/users/:id", "admin-users/service.ts#adminDeleteUser"),
  admin("POST", "/users/:id/ban", "admin-users/service.ts#banUser"),
  admin("POST", "/users/:id/unban", "admin-users/service.ts#unbanUser"),
  admin("POST", "/users/:id/clear-lockout", "admin-users/service.ts#clearLockout"),
  admin("GET", "/users/:id/sessions", "admin-users/service.ts#userSessions"),
  admin("POST", "/users/:id/revoke-sessions", "admin-users/service.ts#revokeSessionsOf"),
  admin("POST", "/users/:id/send-password-reset", "admin-users/service.ts#sendPasswordReset"),
  admin("GET", "/audit", "audit/query.ts#listAudit"),

  // Admin console (HTML). Only sign-in takes the admin key; the rest need the console session.
  openConsolePage("GET", "/assets/console.css", "console/routes.ts#consoleRoutes"),
  openConsolePage("GET", "/assets/console.js", "console/routes.ts#consoleRoutes"),
  openConsolePage("GET", "/", "console/routes.ts#consoleRoutes"),
  openConsolePage("GET", "/sign-in", "console/pages/sign-in.ts#signInPage"),
  route("POST", `${P}/admin/sign-in`, "console/routes.ts#consoleRoutes", "none", [], [{ ...ADMIN_KEY_FAILURES, why: `${ADMIN_KEY_FAILURES.why} (the API's own check)` }]),
  consolePage("POST", "/sign-out", "console/routes.ts#consoleRoutes"),
  consolePage("GET", "/users", "console/pages/users.ts#userListPage"),
  consolePage("GET", "/users/:id", "console/pages/users.ts#userPage"),
  consolePage("POST", "/users/:id/edit", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/verify", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/ban", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/unban", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/clear-lockout", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/send-password-reset", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/revoke-sessions", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/sessions/:sid/revoke", "console/pages/users.ts#userActions"),
  consolePage("POST", "/users/:id/delete", "console/pages/users.ts#userActions"),
  consolePage("GET", "/audit", "console/pages/project.ts#projectPages"),
  consolePage("GET", "/origins", "console/pages/project.ts#projectPages"),
  consolePage("GET", "/keys", "console/pages/project.ts#projectPages"),
  consolePage("GET", "/schema", "console/pages/project.ts#projectPages"),
  consolePage("GET", "/outbox", "console/pages/project.ts#projectPages"),
  consolePage("POST", "/origins", "console/pages/project.ts#projectActions"),
  consolePage("POST", "/keys/rotate", "console/pages/project.ts#projectActions"),
  consolePage("POST", "/jwt/rotate", "console/pages/project.ts#projectActions"),
  consolePage("POST", "/outbox/:mid/retry", "console/pages/project.ts#projectActions"),
];

/** The table's entry for a route; throws (at app build time) for a route the table does not list. */
export function routeEntry(method: RouteEntry["method"], path: string): RouteEntry {
  const entry = ROUTE_TABLE.find((r) => r.method === method && r.path === path);
  if (!entry) throw new Error(`${method} ${path} is not in the route table (src/modules/route-table.ts)`);
  return entry;
}

/**
 * The per-request limits of one route, bound for its handler: call it after parsing, before the
 * service. Looked up once, when the routes are built.
 */
export function routeLimiter(method: RouteEntry["method"], path: string): (p: ProjectRuntime, subject: RouteLimitSubject) => Promise<void> {
  const { limits } = routeEntry(method, path);
  return (p, subject) => applyRouteLimits(p, limits, subject);
}
