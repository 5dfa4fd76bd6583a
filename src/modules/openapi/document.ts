/**
 * GET /p/{id}/openapi.json: an OpenAPI 3.1 document of one project, built from the routes the app
 * really registered (so a route added later shows up) and the project's declared columns (so the
 * signup, PATCH /auth/me and user schemas carry its own custom columns).
 */
import type { ProjectConfig, TableDef } from "../../config/types.ts";
import pkg from "../../../package.json" with { type: "json" };
import { ROUTE_TABLE } from "../route-table.ts";
import {
  adminCreateUserSchema, adminPatchUserSchema, adminUserSchema, auditEventSchema, errorSchema, profilePatchSchema, sessionSchema,
  signupSchema, userSchema, type Schema,
} from "./schemas.ts";

export interface RegisteredRoute {
  readonly method: string;
  readonly path: string;
}

const PROJECT_PREFIX = "/p/:projectId";
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema): Schema => ({ "application/json": { schema } });
const data = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: "object",
  properties: { data: { type: "object", properties, required, additionalProperties: false } },
  required: ["data"],
  additionalProperties: false,
});
const success = (description: string, schema: Schema): Schema => ({ description, content: json(schema) });
const body = (schema: Schema, required = true): Schema => ({ required, content: json(schema) });
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema =>
  ({ type: "object", properties, required, additionalProperties: false });
const STR: Schema = { type: "string" };
const OK_TRUE: Schema = { type: "boolean", const: true };
const TOKEN_FIELDS: Record<string, Schema> = {
  token: { type: "string", description: "access token (JWT, HS256)" },
  refresh_token: { type: "string" },
  token_type: { type: "string", const: "Bearer" },
  expires_in: { type: "integer", description: "seconds until the access token expires" },
};

const query = (name: string, schema: Schema, description?: string): Schema =>
  ({ name, in: "query", required: false, schema, ...(description ? { description } : {}) });
const pathParam = (name: string, description: string): Schema =>
  ({ name, in: "path", required: true, description, schema: { type: "string", format: "uuid" } });
const USER_ID = pathParam("id", "The user's id");
const LIMIT = query("limit", { type: "integer", minimum: 1, maximum: 200, default: 50 });
const CURSOR = query("cursor", { type: "string", maxLength: 512 }, "next_cursor of the previous page, unchanged");
const NEXT_CURSOR: Schema = { type: ["string", "null"], description: "null on the last page; opaque and tamper-evident" };
const adminUserBody = data({ user: ref("AdminUser") });
const JWKS: Schema = {
  type: "object",
  properties: {
    keys: {
      type: "array",
      items: {
        type: "object",
        properties: {
          kty: { type: "string", enum: ["OKP", "EC"] },
          crv: { type: "string", enum: ["Ed25519", "P-256"] },
          x: STR,
          y: STR,
          kid: STR,
          alg: { type: "string", enum: ["EdDSA", "ES256"] },
          use: { type: "string", const: "sig" },
        },
        required: ["kty", "crv", "x", "kid", "alg", "use"],
      },
    },
  },
  required: ["keys"],
};

interface OperationSpec {
  readonly summary: string;
  readonly auth: "none" | "bearer" | "admin" | "bearer-or-none" | "verifier";
  readonly body?: Schema;
  /** Status -> success response. */
  readonly ok: Record<string, Schema>;
  /** Error statuses this operation answers besides the ones every route may (404, 405, 413, 500, 503). */
  readonly errors: readonly number[]; // 429 comes from the route table (a route with any rate limit)
  readonly parameters?: readonly Schema[];
}

function operations(config: ProjectConfig, authTable: TableDef | null): Record<string, OperationSpec> {
  const verifiedFirst = config.auth.requireVerifiedEmail;
  const session = data({ ...TOKEN_FIELDS, user: ref("User") }, ["token", "refresh_token", "user"]);
  const okBody = data({ ok: OK_TRUE });
  const ops: Record<string, OperationSpec> = {
    "GET /openapi.json": { summary: "This document", auth: "none", ok: { 200: { description: "OpenAPI 3.1 document", content: { "application/json": { schema: { type: "object" } } } } }, errors: [] },
    "GET /v1/redirect-origins": { summary: "The allowed redirect origins", auth: "admin", ok: { 200: success("The list in force", data({ allowed_redirect_origins: { type: "array", items: STR } })) }, errors: [401] },
    "PUT /v1/redirect-origins": {
      summary: "Replace the allowed redirect origins (an API change stands until the file's list changes)",
      auth: "admin",
      body: body(obj({ allowed_redirect_origins: { type: "array", items: STR } })),
      ok: { 200: success("The list in force", data({ allowed_redirect_origins: { type: "array", items: STR } })) },
      errors: [400, 401],
    },
    "POST /v1/rotate-keys": {
      summary: "Rotate the admin key, the public key or both (the old key stops working at once)",
      auth: "admin",
      body: body(obj({ admin: { type: "boolean" }, public: { type: "boolean" }, both: { type: "boolean" } }, [])),
      ok: { 200: success("The new keys, shown once", data({ admin_key: STR, public_key: STR }, [])) },
      errors: [400, 401],
    },
    "POST /v1/rotate-jwt-secret": {
      summary: "Rotate the JWT secret: every access token issued before is refused",
      auth: "admin",
      ok: { 200: success("Rotated", data({ rotated: OK_TRUE })) },
      errors: [401],
    },
    "GET /v1/audit": {
      summary: "The audit log, newest first (keyset pages: pass next_cursor back as cursor)",
      auth: "admin",
      parameters: [
        query("user_id", { type: "string", format: "uuid" }),
        query("type", { type: "string", pattern: "^[a-z][a-z0-9_.]{0,63}$" }),
        query("since", { type: "string", format: "date-time" }, "ISO 8601 with a time zone"),
        LIMIT,
        CURSOR,
      ],
      ok: { 200: success("A page of events", data({ events: { type: "array", items: ref("AuditEvent") }, next_cursor: NEXT_CURSOR })) },
      errors: [400, 401],
    },
  };
  if (authTable === null) return ops;
  return {
    ...ops,
    "POST /auth/signup": {
      summary: "Create an account",
      auth: "none",
      body: body(ref("SignupRequest")),
      ok: { 201: success(verifiedFirst ? "Created; log in once the email is verified" : "Created and logged in", verifiedFirst ? data({ user: ref("User") }) : session) },
      errors: [400, 409],
    },
    "POST /auth/login": {
      summary: "Log in with email and password",
      auth: "none",
      body: body(obj({ email: STR, password: STR })),
      ok: { 200: success("Logged in", session) },
      errors: [400, 401, 403],
    },
    "POST /auth/refresh": {
      summary: "Rotate a refresh token for a new access token",
      auth: "none",
      body: body(obj({ refresh_token: STR })),
      ok: { 200: success("New tokens", data(TOKEN_FIELDS, ["token", "refresh_token"])) },
      errors: [400, 401],
    },
    "GET /auth/me": { summary: "The current user", auth: "bearer", ok: { 200: success("The user", data({ user: ref("User") })) }, errors: [401] },
    "PATCH /auth/me": {
      summary: "Change the current user's writable custom columns",
      auth: "bearer",
      body: body(ref("ProfilePatch")),
      ok: { 200: success("The updated user", data({ user: ref("User") })) },
      errors: [400, 401, 409],
    },
    "POST /auth/logout": {
      summary: "End this session, or every session with {\"all\": true}",
      auth: "bearer",
      body: body(obj({ all: { type: "boolean" } }, []), false),
      ok: { 200: success("Logged out", okBody) },
      errors: [400, 401],
    },
    "POST /auth/change-password": {
      summary: "Change the password; outstanding access tokens are refused, a fresh one is returned",
      auth: "bearer",
      body: body(obj({ current_password: STR, new_password: STR })),
      ok: { 200: success("Changed", data({ ok: OK_TRUE, token: TOKEN_FIELDS.token, token_type: TOKEN_FIELDS.token_type, expires_in: TOKEN_FIELDS.expires_in }, ["ok", "token"])) },
      errors: [400, 401],
    },
    "POST /auth/forgot-password": {
      summary: "Send a password reset link (same answer whether or not the email exists)",
      auth: "none",
      body: body(obj({ email: STR, redirect_url: { type: "string", format: "uri" } })),
      ok: { 200: success("Accepted", okBody) },
      errors: [400],
    },
    "POST /auth/reset-password": {
      summary: "Set a new password with a reset token (single use)",
      auth: "none",
      body: body(obj({ token: STR, new_password: STR })),
      ok: { 200: success("Reset", okBody) },
      errors: [400],
    },
    "GET /auth/verify": {
      summary: "Verify an email address (the link of the verification email)",
      auth: "none",
      parameters: [{ name: "token", in: "query", required: true, schema: STR }],
      ok: {
        200: { description: "Verified: an HTML page, or JSON with Accept: application/json", content: { ...json(data({ ok: OK_TRUE, already_verified: { type: "boolean" } }, ["ok"])), "text/html": { schema: STR } } },
        303: { description: "With auth.verify_redirect_url: to that URL with verified=true or error=invalid_token" },
      },
      errors: [400],
    },
    "POST /auth/resend-verification": {
      summary: "Send a new verification link",
      auth: verifiedFirst ? "bearer-or-none" : "bearer",
      body: body(obj({ email: STR }, []), false),
      ok: { 200: success("Queued (or already verified)", data({ ok: OK_TRUE, already_verified: { type: "boolean" } }, ["ok"])) },
      errors: [400, 401],
    },
    "GET /auth/forward": {
      summary: "Forward auth for a reverse proxy: 200 with X-Latchkey-* identity headers, or 401 / 403",
      auth: "bearer",
      parameters: [query("verified", { type: "string", enum: ["1", "0", "true", "false"] }, "1: answer 403 for an unverified email")],
      ok: { 200: { description: "Authenticated: empty body, identity in X-Latchkey-User-Id, -Email, -Email-Verified, -Session-Id and -Claim-* headers" } },
      errors: [400, 401, 403],
    },
    "GET /.well-known/jwks.json": {
      summary: "The public keys that verify access tokens now (RFC 7517; empty for HS256)",
      auth: "verifier",
      ok: { 200: success("The key set (plain JSON, no data envelope)", JWKS) },
      errors: [],
    },
    "GET /.well-known/openid-configuration": {
      summary: "Discovery of the issuer and its JWKS",
      auth: "verifier",
      ok: { 200: success("Issuer metadata (plain JSON, no data envelope)", { type: "object", properties: { issuer: { type: "string", format: "uri" }, jwks_uri: { type: "string", format: "uri" } }, required: ["issuer", "jwks_uri"] }) },
      errors: [],
    },
    "GET /auth/sessions": {
      summary: "The caller's live sessions, newest first",
      auth: "bearer",
      ok: { 200: success("The sessions", data({ sessions: { type: "array", items: ref("MySession") } })) },
      errors: [401],
    },
    "DELETE /auth/sessions/{sid}": {
      summary: "End one of the caller's sessions (404 for another user's, an unknown or an ended one)",
      auth: "bearer",
      parameters: [pathParam("sid", "A session id from GET /auth/sessions")],
      ok: { 200: success("Ended", okBody) },
      errors: [400, 401],
    },
    "POST /auth/change-email": {
      summary: "Ask to change the email: a confirmation link goes to the new address, a notice to the old one",
      auth: "bearer",
      body: body(obj({ new_email: { type: "string", format: "email" }, password: STR, redirect_url: { type: ["string", "null"], format: "uri" } }, ["new_email", "password"])),
      ok: { 200: success("Mails queued; the address changes when the link is opened", okBody) },
      errors: [400, 401, 409],
    },
    "DELETE /auth/me": {
      summary: "Delete the caller's account (other tables follow their on_delete; a restrict reference is 409 CONFLICT)",
      auth: "bearer",
      body: body(obj({ password: STR })),
      ok: { 200: success("Deleted", okBody) },
      errors: [400, 401, 409],
    },
    "GET /v1/users": {
      summary: "Users in (created_at, id) order (keyset pages: pass next_cursor back as cursor)",
      auth: "admin",
      parameters: [
        query("q", { type: "string", minLength: 1, maxLength: 254 }, "a user id, or a prefix of the email"),
        query("verified", { type: "string", enum: ["true", "false"] }),
        query("banned", { type: "string", enum: ["true", "false"] }),
        LIMIT,
        CURSOR,
      ],
      ok: { 200: success("A page of users", data({ users: { type: "array", items: ref("AdminUser") }, next_cursor: NEXT_CURSOR })) },
      errors: [400, 401],
    },
    "POST /v1/users": {
      summary: "Create a user (no mail; without a password, login fails until a reset)",
      auth: "admin",
      body: body(ref("AdminUserCreate")),
      ok: { 201: success("Created", data({ user: ref("AdminUser") })) },
      errors: [400, 401, 409],
    },
    "GET /v1/users/{id}": { summary: "One user", auth: "admin", parameters: [USER_ID], ok: { 200: success("The user", adminUserBody) }, errors: [400, 401] },
    "PATCH /v1/users/{id}": {
      summary: "Change a user's columns, email or email_verified (no confirmation, no mail)",
      auth: "admin",
      parameters: [USER_ID],
      body: body(ref("AdminUserPatch")),
      ok: { 200: success("The updated user", adminUserBody) },
      errors: [400, 401, 409],
    },
    "DELETE /v1/users/{id}": {
      summary: "Delete a user like DELETE /auth/me, without a mail",
      auth: "admin",
      parameters: [USER_ID],
      body: body(obj({}, []), false),
      ok: { 200: success("Deleted", okBody) },
      errors: [400, 401, 409],
    },
    "POST /v1/users/{id}/ban": {
      summary: "Ban a user and end every session of the user in one transaction",
      auth: "admin",
      parameters: [USER_ID],
      body: body(obj({ until: { type: ["string", "null"], format: "date-time" }, reason: { type: ["string", "null"], maxLength: 500 } }, []), false),
      ok: { 200: success("The banned user", adminUserBody) },
      errors: [400, 401],
    },
    "POST /v1/users/{id}/unban": {
      summary: "Lift a ban (and clear the login lockout)",
      auth: "admin",
      parameters: [USER_ID],
      body: body(obj({}, []), false),
      ok: { 200: success("The user", adminUserBody) },
      errors: [400, 401],
    },
    "POST /v1/users/{id}/clear-lockout": {
      summary: "Clear the user's failed-login counter: the account can log in at once",
      auth: "admin",
      parameters: [USER_ID],
      body: body(obj({}, []), false),
      ok: { 200: success("The user", adminUserBody) },
      errors: [400, 401],
    },
    "GET /v1/users/{id}/sessions": {
      summary: "The user's live sessions, newest first",
      auth: "admin",
      parameters: [USER_ID],
      ok: { 200: success("The sessions", data({ sessions: { type: "array", items: ref("Session") } })) },
      errors: [400, 401],
    },
    "POST /v1/users/{id}/revoke-sessions": {
      summary: "End every session of the user",
      auth: "admin",
      parameters: [USER_ID],
      body: body(obj({}, []), false),
      ok: { 200: success("How many sessions were live", data({ revoked: { type: "integer", minimum: 0 } })) },
      errors: [400, 401],
    },
    "POST /v1/users/{id}/send-password-reset": {
      summary: "Queue a password reset mail to the user, as forgot-password would",
      auth: "admin",
      parameters: [USER_ID],
      body: body(obj({ redirect_url: { type: "string", format: "uri" } })),
      ok: { 200: success("Queued", okBody) },
      errors: [400, 401],
    },
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: "Invalid request", 401: "Missing or invalid credentials", 403: "Forbidden", 404: "Unknown project, route or resource",
  405: "Method not allowed", 409: "Conflict", 413: "Body larger than 64 KiB", 429: "Rate limited (see Retry-After)",
  500: "Internal error", 503: "Overloaded or storage unavailable (see Retry-After)",
};
const ALWAYS = [404, 405, 413, 500, 503];

const NEEDS_AUTH_TABLE = /^\/(auth\/|\.well-known\/|v1\/users(\/|$))/;

function openApiPath(path: string): string {
  return path.slice(PROJECT_PREFIX.length).replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function operationId(method: string, path: string): string {
  const words = `${method.toLowerCase()} ${path}`.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return words.map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join("");
}

function security(spec: OperationSpec, path: string, requirePublicKey: boolean): Schema[] {
  const publicKey = requirePublicKey && path.startsWith("/auth/") && path !== "/auth/verify";
  const withKey = (s: Schema): Schema => (publicKey ? { ...s, publicKey: [] } : s);
  switch (spec.auth) {
    case "admin": return [{ adminKey: [] }, { adminBearer: [] }];
    case "bearer": return [withKey({ bearerAuth: [] })];
    case "bearer-or-none": return [withKey({ bearerAuth: [] }), withKey({})];
    case "none": return [withKey({})];
    case "verifier": return [{}];
  }
}

/** The document for one project; `routes` are the app's registered routes. */
export function buildOpenApiDocument(config: ProjectConfig, routes: readonly RegisteredRoute[], publicUrl: string): Schema {
  const authTable = config.tables.find((t) => t.name === config.authTableName) ?? null;
  const specs = operations(config, authTable);
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    if (!route.path.startsWith(`${PROJECT_PREFIX}/`)) continue;
    // The admin console's HTML pages and form posts are not part of the JSON API.
    if (route.path.startsWith(`${PROJECT_PREFIX}/admin/`)) continue;
    const path = openApiPath(route.path);
    // A project without an auth table answers 404 AUTH_NOT_ENABLED on these.
    if (authTable === null && NEEDS_AUTH_TABLE.test(path)) continue;
    const method = route.method.toUpperCase();
    const spec: OperationSpec = specs[`${method} ${path}`] ?? { summary: `${method} ${path}`, auth: "none", ok: {}, errors: [] };
    const responses: Record<string, Schema> = { ...spec.ok };
    const entry = ROUTE_TABLE.find((r) => r.method === method && r.path === route.path);
    const limited = entry !== undefined && entry.limits.length + entry.inFlow.length > 0;
    for (const status of [...spec.errors, ...(limited ? [429] : []), ...ALWAYS]) {
      responses[String(status)] ??= { description: STATUS_TEXT[status] ?? "Error", content: json(ref("Error")) };
    }
    responses.default = { description: "Any other error", content: json(ref("Error")) };
    const operation: Schema = {
      operationId: operationId(method, path),
      summary: spec.summary,
      security: security(spec, path, config.auth.requirePublicKey),
      responses,
    };
    if (spec.parameters) operation.parameters = spec.parameters;
    if (spec.body) operation.requestBody = spec.body;
    paths[path] = { ...paths[path], [method.toLowerCase()]: operation };
  }
  const schemas: Record<string, Schema> = { Error: errorSchema(), AuditEvent: auditEventSchema() };
  if (authTable !== null) {
    schemas.User = userSchema(authTable);
    schemas.SignupRequest = signupSchema(authTable, config.auth.password);
    schemas.ProfilePatch = profilePatchSchema(authTable);
    schemas.AdminUser = adminUserSchema(authTable);
    schemas.AdminUserCreate = adminCreateUserSchema(authTable, config.auth.password);
    schemas.AdminUserPatch = adminPatchUserSchema(authTable);
    schemas.MySession = sessionSchema(true);
    schemas.Session = sessionSchema(false);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: `${config.name} (Latchkey project ${config.id})`,
      version: pkg.version,
      description: "Errors use the envelope {\"error\": {code, message, suggestion?, field?, request_id?}}; successes {\"data\": ...}.",
    },
    servers: [{ url: `${publicUrl}/p/${config.id}` }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An access token of this project" },
        adminKey: { type: "apiKey", in: "header", name: "X-Admin-Key", description: "The project's admin key (sk_...)" },
        adminBearer: { type: "http", scheme: "bearer", description: "The project's admin key (sk_...) as a bearer token" },
        publicKey: { type: "apiKey", in: "header", name: "X-Public-Key", description: "The project's public key (pk_...), when require_public_key" },
      },
    },
  };
}
