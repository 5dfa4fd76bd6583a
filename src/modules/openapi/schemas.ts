/**
 * JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) for a project's user object and request bodies,
 * built from its declared columns with the same rules the request reader (users/columns.ts) applies:
 * types, enums, lengths, ranges, required; readonly columns are not accepted from end users,
 * hidden ones are never returned.
 */
import { DEFAULT_NOW, type ColumnDef, type TableDef } from "../../config/types.ts";
import { DEFAULT_STRING_MAX_LENGTH } from "../../config/column-types.ts";
import { ERROR_STATUS } from "../../http/errors.ts";

export type Schema = Record<string, unknown>;

/** The JSON value of a column (SPEC 3), as a response carries it. */
function valueSchema(col: ColumnDef): Schema {
  switch (col.type) {
    case "string":
    case "text":
      return { type: "string" };
    case "int":
      return { type: "integer" };
    case "timestamp":
      return { type: "integer", description: "unix seconds" };
    case "float":
      return { type: "number" };
    case "bool":
      return { type: "boolean" };
    case "date":
      return { type: "string", format: "date" };
    case "datetime":
      return { type: "string", format: "date-time" };
    case "json":
      return { description: "any JSON value" };
    case "enum":
      return { type: "string", enum: [...(col.values ?? [])] };
    case "ref":
    case "uuid":
      return { type: "string", format: "uuid" };
  }
}

/** What a request may send for a column: the value schema plus its limits and default. */
function inputSchema(col: ColumnDef): Schema {
  const s = valueSchema(col);
  if (col.type === "string" || col.type === "text") {
    const max = col.maxLength ?? (col.type === "string" ? DEFAULT_STRING_MAX_LENGTH : undefined);
    if (max !== undefined) s.maxLength = max;
    if (col.minLength !== undefined) s.minLength = col.minLength;
  }
  if (col.min !== undefined) s.minimum = col.min;
  if (col.max !== undefined) s.maximum = col.max;
  if (col.hasDefault && col.default !== DEFAULT_NOW) s.default = col.default;
  return s;
}

function orNull(s: Schema, col: ColumnDef): Schema {
  if (col.required) return s;
  if (typeof s.type === "string") return { ...s, type: [s.type, "null"], ...(s.enum ? { enum: [...(s.enum as unknown[]), null] } : {}) };
  return s; // json: any value, null included
}

/** A column the request must carry at signup: required, with no default and nothing the app fills. */
function requiredAtSignup(col: ColumnDef): boolean {
  if (!col.required || col.hasDefault) return false;
  return col.type !== "uuid";
}

export function userSchema(table: TableDef): Schema {
  const visible = table.columns.filter((c) => !c.hidden);
  const properties: Record<string, Schema> = {
    id: { type: "string", format: "uuid" },
    email: { type: "string", format: "email" },
    email_verified: { type: "boolean" },
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
  };
  for (const col of visible) properties[col.name] = orNull(valueSchema(col), col);
  return {
    type: "object",
    description: "A user. Custom columns without a value are present as null; hidden columns are never returned.",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

/**
 * The admin user object (SPEC 12): the user plus hidden columns and the ban / login state, as
 * admin-users/view.ts builds it.
 */
export function adminUserSchema(table: TableDef): Schema {
  const user = userSchema(table);
  const properties: Record<string, Schema> = { ...(user.properties as Record<string, Schema>) };
  for (const col of table.columns) if (col.hidden) properties[col.name] = orNull(valueSchema(col), col);
  properties.banned = { type: "boolean", description: "a ban is in force now" };
  properties.banned_until = { type: ["string", "null"], format: "date-time", description: "null for a ban without end, or no ban" };
  properties.ban_reason = { type: ["string", "null"], maxLength: 500 };
  properties.last_login_at = { type: ["string", "null"], format: "date-time" };
  return {
    type: "object",
    description: "A user as the admin API shows it: hidden columns included, never the password hash.",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

/** POST /v1/users: like signup, but readonly and hidden columns are accepted and the password is optional. */
export function adminCreateUserSchema(table: TableDef, password: { minLength: number; maxLength: number }): Schema {
  const properties: Record<string, Schema> = {
    email: { type: "string", format: "email" },
    password: { type: ["string", "null"], minLength: password.minLength, maxLength: password.maxLength, description: "without one, login fails until a reset" },
    email_verified: { type: "boolean", default: false },
  };
  const required = ["email"];
  for (const col of table.columns) {
    properties[col.name] = orNull(inputSchema(col), col);
    if (requiredAtSignup(col)) required.push(col.name);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

/** PATCH /v1/users/{id}: any custom column, `email`, `email_verified`. */
export function adminPatchUserSchema(table: TableDef): Schema {
  const properties: Record<string, Schema> = { email: { type: "string", format: "email" }, email_verified: { type: "boolean" } };
  for (const col of table.columns) properties[col.name] = orNull(inputSchema(col), col);
  return { type: "object", properties, additionalProperties: false };
}

/** A live session (session/list.ts); `withCurrent` for GET /auth/sessions. */
export function sessionSchema(withCurrent: boolean): Schema {
  const properties: Record<string, Schema> = {
    id: { type: "string", format: "uuid" },
    created_at: { type: "string", format: "date-time" },
    last_used_at: { type: "string", format: "date-time" },
    expires_at: { type: "string", format: "date-time", description: "when the session's newest refresh token expires" },
    ip: { type: ["string", "null"] },
    user_agent: { type: ["string", "null"] },
  };
  if (withCurrent) properties.current = { type: "boolean", description: "the session of the presented access token" };
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false };
}

/** One row of GET /v1/audit (db/audit.ts). */
export function auditEventSchema(): Schema {
  const properties: Record<string, Schema> = {
    id: { type: "integer" },
    type: { type: "string", pattern: "^[a-z][a-z0-9_.]{0,63}$" },
    at: { type: "string", format: "date-time" },
    user_id: { type: ["string", "null"], format: "uuid" },
    ip: { type: ["string", "null"] },
    user_agent: { type: ["string", "null"], maxLength: 256 },
    request_id: { type: ["string", "null"] },
    details: {
      type: "object",
      maxProperties: 16,
      description: "booleans, numbers and short strings; never a password, token, secret, hash or key",
      additionalProperties: {
        anyOf: [
          { type: ["null", "boolean", "number"] },
          { type: "string", maxLength: 200 },
          { type: "array", maxItems: 16, items: { anyOf: [{ type: "string", maxLength: 200 }, { type: "number" }] } },
        ],
      },
    },
  };
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false };
}

function writable(table: TableDef): ColumnDef[] {
  return table.columns.filter((c) => !c.readonly);
}

export function signupSchema(table: TableDef, password: { minLength: number; maxLength: number }): Schema {
  const properties: Record<string, Schema> = {
    email: { type: "string", format: "email" },
    password: { type: "string", minLength: password.minLength, maxLength: password.maxLength },
  };
  const required = ["email", "password"];
  for (const col of writable(table)) {
    properties[col.name] = orNull(inputSchema(col), col);
    if (requiredAtSignup(col)) required.push(col.name);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

export function profilePatchSchema(table: TableDef): Schema {
  const properties: Record<string, Schema> = {};
  for (const col of writable(table)) properties[col.name] = orNull(inputSchema(col), col);
  return { type: "object", properties, additionalProperties: false };
}

export function errorSchema(): Schema {
  return {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string", enum: Object.keys(ERROR_STATUS) },
          message: { type: "string" },
          suggestion: { type: "string" },
          field: { type: "string" },
          request_id: { type: "string" },
          retry_after: { type: "integer", minimum: 0 },
        },
        required: ["code", "message"],
        additionalProperties: false,
      },
    },
    required: ["error"],
    additionalProperties: false,
  };
}
