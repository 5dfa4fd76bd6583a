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
