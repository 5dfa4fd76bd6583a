/**
 * GET /p/{id}/openapi.json: an OpenAPI 3.1 document of one project, built from the routes the app
 * really registered (so a route added later shows up) and the project's declared columns (so the
 * signup, PATCH /auth/me and user schemas carry its own custom columns).
 */
import type { ProjectConfig, TableDef } from "../../config/types.ts";
import pkg from "../../../package.json" with { type: "json" };
import { errorSchema, profilePatchSchema, signupSchema, userSchema, type Schema } from "./schemas.ts";

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

interface OperationSpec {
  readonly summary: string;
  readonly auth: "none" | "bearer" | "admin" | "bearer-or-none";
  readonly body?: Schema;
  /** Status -> success response. */
  readonly ok: Record<string, Schema>;
  /** Error statuses this operation answers besides the ones every route may (404, 405, 413, 500, 503). */
  readonly errors: readonly number[];
  readonly parameters?: readonly Schema[];
}

function operations(config: ProjectConfig, authTable: TableDef | null): Record<string, OperationSpec> {
  const verifiedFirst = config.auth.requireVerifiedEmail;
  const session = data({ ...TOKEN_FIELDS, user: ref("User") }, ["token", "refresh_token", "user"]);
  const okBody = data({ ok: OK_TRUE });
  const ops: Record<string, OperationSpec> = {
    "GET /openapi.json": { summary: "This document", auth: "none", ok: { 200: { description: "OpenAPI 3.1 document", content: { "application/json": { schema: { type: "object" } } } } }, errors: [] },
    "GET /v1/redirect-origins": { summary: "The allowed redirect origins", auth: "admin", ok: { 200: success("The list in force", data({ allowed_redirect_origins: { type: "array", items: STR } })) }, errors: [401, 429] },
    "PUT /v1/redirect-origins": {
      summary: "Replace the allowed redirect origins (an API change stands until the file's list changes)",
      auth: "admin",
      body: body(obj({ allowed_redirect_origins: { type: "array", items: STR } })),
      ok: { 200: success("The list in force", data({ allowed_redirect_origins: { type: "array", items: STR } })) },
      errors: [400, 401, 429],
    },
    "POST /v1/rotate-keys": {
      summary: "Rotate the admin key, the public key or both (the old key stops working at once)",
      auth: "admin",
      body: body(obj({ admin: { type: "boolean" }, public: { type: "boolean" }, both: { type: "boolean" } }, [])),
      ok: { 200: success("The new keys, shown once", data({ admin_key: STR, public_key: STR }, [])) },
      errors: [400, 401, 429],
    },
    "POST /v1/rotate-jwt-secret": {
      summary: "Rotate the JWT secret: every access token issued before is refused",
      auth: "admin",
      ok: { 200: success("Rotated", data({ rotated: OK_TRUE })) },
      errors: [401, 429],
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
      errors: [400, 409, 429],
    },
    "POST /auth/login": {
      summary: "Log in with email and password",
      auth: "none",
      body: body(obj({ email: STR, password: STR })),
      ok: { 200: success("Logged in", session) },
      errors: [400, 401, 403, 429],
    },
    "POST /auth/refresh": {
      summary: "Rotate a refresh token for a new access token",
      auth: "none",
      body: body(obj({ refresh_token: STR })),
      ok: { 200: success("New tokens", data(TOKEN_FIELDS, ["token", "refresh_token"])) },
      errors: [400, 401, 429],
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
      errors: [400, 401, 429],
    },
    "POST /auth/forgot-password": {
      summary: "Send a password reset link (same answer whether or not the email exists)",
      auth: "none",
      body: body(obj({ email: STR, redirect_url: { type: "string", format: "uri" } })),
      ok: { 200: success("Accepted", okBody) },
      errors: [400, 429],
    },
    "POST /auth/reset-password": {
      summary: "Set a new password with a reset token (single use)",
      auth: "none",
      body: body(obj({ token: STR, new_password: STR })),
      ok: { 200: success("Reset", okBody) },
      errors: [400, 429],
    },
    "GET /auth/verify": {
      summary: "Verify an email address (the link of the verification email)",
      auth: "none",
      parameters: [{ name: "token", in: "query", required: true, schema: STR }],
      ok: {
        200: { description: "Verified: an HTML page, or JSON with Accept: application/json", content: { ...json(data({ ok: OK_TRUE, already_verified: { type: "boolean" } }, ["ok"])), "text/html": { schema: STR } } },
        303: { description: "With auth.verify_redirect_url: to that URL with verified=true or error=invalid_token" },
      },
      errors: [400, 429],
    },
    "POST /auth/resend-verification": {
      summary: "Send a new verification link",
      auth: verifiedFirst ? "bearer-or-none" : "bearer",
      body: body(obj({ email: STR }, []), false),
      ok: { 200: success("Queued (or already verified)", data({ ok: OK_TRUE, already_verified: { type: "boolean" } }, ["ok"])) },
      errors: [400, 401, 429],
    },
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: "Invalid request", 401: "Missing or invalid credentials", 403: "Forbidden", 404: "Unknown project or route",
  405: "Method not allowed", 409: "Conflict", 413: "Body larger than 64 KiB", 429: "Rate limited (see Retry-After)",
  500: "Internal error", 503: "Overloaded or storage unavailable (see Retry-After)",
};
const ALWAYS = [404, 405, 413, 500, 503];

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
  }
}

/** The document for one project; `routes` are the app's registered routes. */
export function buildOpenApiDocument(config: ProjectConfig, routes: readonly RegisteredRoute[], publicUrl: string): Schema {
  const authTable = config.tables.find((t) => t.name === config.authTableName) ?? null;
  const specs = operations(config, authTable);
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    if (!route.path.startsWith(`${PROJECT_PREFIX}/`)) continue;
    const path = openApiPath(route.path);
    // A project without an auth table answers 404 AUTH_NOT_ENABLED on every /auth route.
    if (authTable === null && path.startsWith("/auth/")) continue;
    const method = route.method.toUpperCase();
    const spec: OperationSpec = specs[`${method} ${path}`] ?? { summary: `${method} ${path}`, auth: "none", ok: {}, errors: [] };
    const responses: Record<string, Schema> = { ...spec.ok };
    for (const status of [...spec.errors, ...ALWAYS]) {
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
  const schemas: Record<string, Schema> = { Error: errorSchema() };
  if (authTable !== null) {
    schemas.User = userSchema(authTable);
    schemas.SignupRequest = signupSchema(authTable, config.auth.password);
    schemas.ProfilePatch = profilePatchSchema(authTable);
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
