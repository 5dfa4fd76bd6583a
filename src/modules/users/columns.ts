/**
 * End-user input for the auth table's custom columns (signup, PATCH /auth/me). The request schema
 * is derived from the project file: types, required, lengths, min/max, enum values, defaults,
 * readonly. There is no silent mass assignment: every key of the body must be a field the endpoint
 * accepts, or the request is refused naming it.
 */
import { DEFAULT_NOW, type ColumnDef, type TableDef } from "../../config/types.ts";
import { nowValueOf, storeColumnValue, supportsNow } from "../../config/column-types.ts";
import { ApiError } from "../../http/errors.ts";
import type { JsonObject } from "../../http/body.ts";
import { uuidV4, type RandomBytes } from "../../crypto/random.ts";
import type { SqlValue } from "../../users/model.ts";

/** Built-in auth-table columns no end user may set, whatever the endpoint. */
const SERVER_MANAGED = new Set([
  "id", "created_at", "updated_at", "email_verified", "password_hash", "_email_canonical", "_password_version",
]);

/** Field names are echoed in errors; a pathological key is cut, never reflected whole. */
const MAX_ECHOED_FIELD = 64;

/** The custom columns an end user may write (neither readonly nor internal). */
export function writableColumns(table: TableDef): ColumnDef[] {
  return table.columns.filter((c) => !c.readonly);
}

/**
 * Refuses any own key of `body` that is not in `accepted` (JSON.parse makes `__proto__` an own
 * key, so it is refused like any other unknown field). Runs before any other check.
 */
export function refuseUnknownFields(body: JsonObject, accepted: ReadonlySet<string>, table: TableDef | null): void {
  for (const key of Object.keys(body)) {
    if (accepted.has(key)) continue;
    const field = key.length > MAX_ECHOED_FIELD ? key.slice(0, MAX_ECHOED_FIELD) : key;
    const col = table?.columns.find((c) => c.name === key);
    let message = `This endpoint does not accept the field "${field}".`;
    if (col?.readonly) message = `"${field}" is read-only: only its default or an admin sets it.`;
    else if (SERVER_MANAGED.has(key)) message = `"${field}" is managed by the server and cannot be set.`;
    throw new ApiError("VALIDATION_UNKNOWN_FIELD", { field, message });
  }
}

/**
 * Validates the custom-column fields present in `body` and converts them to stored values.
 * `create` (signup) also enforces required columns and fills the app-side defaults
 * (`default now`, generated uuids); SQL defaults are left to the database.
 */
export function readColumnValues(
  table: TableDef,
  body: JsonObject,
  opts: { mode: "create" | "update"; nowMs: number; random: RandomBytes; admin?: boolean },
): Record<string, SqlValue> {
  const out: Record<string, SqlValue> = {};
  // An admin write (SPEC 12) may also set readonly (and hidden) columns, with the same checks.
  for (const col of opts.admin ? table.columns : writableColumns(table)) {
    if (Object.hasOwn(body, col.name)) {
      out[col.name] = toStored(col, body[col.name]);
      continue;
    }
    if (opts.mode === "update") continue;
    const filled = appDefault(col, opts.nowMs, opts.random);
    if (filled !== undefined) out[col.name] = filled;
    else if (col.required && !col.hasDefault) {
      throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: col.name, message: `"${col.name}" is required.` });
    }
  }
  if (opts.mode === "create" && !opts.admin) {
    // Readonly columns are never taken from the body, but their `now` / uuid defaults still apply.
    for (const col of table.columns) {
      if (!col.readonly) continue;
      const filled = appDefault(col, opts.nowMs, opts.random);
      if (filled !== undefined) out[col.name] = filled;
    }
  }
  return out;
}

/** Values the app computes at insert because SQL cannot (time of the injected clock, uuid v4). */
function appDefault(col: ColumnDef, nowMs: number, random: RandomBytes): SqlValue | undefined {
  if (col.hasDefault && col.default === DEFAULT_NOW && supportsNow(col.type)) return nowValueOf(col.type, nowMs);
  if (col.type === "uuid" && !col.hasDefault) return uuidV4(random);
  return undefined;
}

function invalid(col: ColumnDef, expected: string): ApiError {
  return new ApiError("VALIDATION_INVALID_FIELD", { field: col.name, message: `"${col.name}" must be ${expected}.` });
}

/** JSON value of SPEC 3 -> stored value; the message names the field and what it expects, never the value. */
export function toStored(col: ColumnDef, value: unknown): SqlValue {
  if (value === null) {
    if (col.required) throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: col.name, message: `"${col.name}" is required and cannot be null.` });
    return null;
  }
  const stored = storeColumnValue(col, value);
  if (!stored.ok) throw invalid(col, stored.reason);
  return stored.value;
}
