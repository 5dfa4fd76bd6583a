/**
 * Validation and normalization of a column's declared `default` to the column's JSON type.
 * Short-form defaults arrive as text (`default false`); long-form defaults may also arrive as
 * native YAML values (`default: false`). Messages never echo the value.
 */
import type { ColumnType, JsonValue } from "./types.ts";
import { DEFAULT_NOW } from "./types.ts";

export type DefaultResult = { ok: true; value: JsonValue } | { ok: false; reason: string };

/** The parts of a column a default must agree with. */
export interface DefaultTarget {
  readonly type: ColumnType;
  readonly maxLength?: number;
  readonly minLength?: number;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

const INTEGER_TEXT = /^-?(0|[1-9][0-9]*)$/;
const FLOAT_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const DATE_TEXT = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const DATETIME_TEXT = /^([0-9]{4}-[0-9]{2}-[0-9]{2})T([01][0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9])(\.[0-9]{1,9})?)?(Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))$/;
const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const fail = (reason: string): DefaultResult => ({ ok: false, reason });
const ok = (value: JsonValue): DefaultResult => ({ ok: true, value });

function isCalendarDate(text: string): boolean {
  const m = DATE_TEXT.exec(text);
  if (m === null) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function toJsonValue(value: unknown): JsonValue | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items: JsonValue[] = [];
    for (const item of value) {
      const converted = toJsonValue(item);
      if (converted === undefined) return undefined;
      items.push(converted);
    }
    return items;
  }
  if (typeof value === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toJsonValue(item);
      if (converted === undefined) return undefined;
      Object.defineProperty(out, key, { value: converted, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return undefined;
}

function checkRange(value: number, target: DefaultTarget): DefaultResult {
  if (target.min !== undefined && value < target.min) return fail("default is below the column's min");
  if (target.max !== undefined && value > target.max) return fail("default is above the column's max");
  return ok(value);
}

function normalizeInteger(raw: unknown, target: DefaultTarget, what: string): DefaultResult {
  let value: number;
  if (typeof raw === "number") value = raw;
  else if (typeof raw === "string" && INTEGER_TEXT.test(raw)) value = Number(raw);
  else return fail(`default must be ${what}`);
  if (!Number.isSafeInteger(value)) return fail(`default must be ${what}`);
  return checkRange(value, target);
}

function normalizeString(raw: unknown, target: DefaultTarget): DefaultResult {
  if (typeof raw !== "string") return fail("default must be a string");
  const length = [...raw].length;
  if (target.maxLength !== undefined && length > target.maxLength) return fail("default is longer than max_length");
  if (target.minLength !== undefined && length < target.minLength) return fail("default is shorter than min_length");
  return ok(raw);
}

function normalizeDatetime(raw: unknown): DefaultResult {
  const reason = "default must be an ISO 8601 date-time with a time zone (2024-01-31T12:00:00Z), a date (2024-01-31) or now";
  if (typeof raw !== "string") return fail(reason);
  if (raw === DEFAULT_NOW) return ok(DEFAULT_NOW);
  if (isCalendarDate(raw)) return ok(new Date(`${raw}T00:00:00Z`).toISOString());
  const m = DATETIME_TEXT.exec(raw);
  if (m === null || !isCalendarDate(m[1])) return fail(reason);
  // Computed field by field rather than with Date.parse, whose handling of long fractions and
  // offsets varies between engines.
  const [year, month, day] = m[1].split("-").map(Number);
  const fractionMs = m[6] === undefined ? 0 : Number(m[6].slice(1, 4).padEnd(3, "0"));
  const offsetMinutes = m[7] === "Z" ? 0 : (m[8] === "-" ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  const ms = Date.UTC(year, month - 1, day, Number(m[2]), Number(m[3]), Number(m[5] ?? "0"), fractionMs) - offsetMinutes * 60_000;
  return ok(new Date(ms).toISOString());
}

/** Checks a declared default against the column and returns it in the column's JSON type. */
export function normalizeColumnDefault(raw: unknown, target: DefaultTarget, opts: { readonly form: "short" | "long" }): DefaultResult {
  if (raw === null || raw === undefined) return fail("default must not be null: omit it for a nullable column");
  switch (target.type) {
    case "string":
    case "text":
      return normalizeString(raw, target);
    case "int":
      return normalizeInteger(raw, target, "an integer");
    case "timestamp":
      if (raw === DEFAULT_NOW) return ok(DEFAULT_NOW);
      return normalizeInteger(raw, target, "a whole number of unix seconds or now");
    case "float": {
      let value: number;
      if (typeof raw === "number") value = raw;
      else if (typeof raw === "string" && FLOAT_TEXT.test(raw)) value = Number(raw);
      else return fail("default must be a number");
      if (!Number.isFinite(value)) return fail("default must be a finite number");
      return checkRange(value, target);
    }
    case "bool":
      if (raw === true || raw === "true") return ok(true);
      if (raw === false || raw === "false") return ok(false);
      return fail("default must be true or false");
    case "date":
      if (raw === DEFAULT_NOW) return ok(DEFAULT_NOW);
      if (typeof raw === "string" && isCalendarDate(raw)) return ok(raw);
      return fail("default must be a calendar date YYYY-MM-DD or now");
    case "datetime":
      return normalizeDatetime(raw);
    case "json": {
      if (opts.form === "long") {
        const value = toJsonValue(raw);
        return value === undefined ? fail("default must be a JSON value") : ok(value);
      }
      if (typeof raw !== "string") return fail("default must be JSON text");
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return fail("default is not valid JSON (quote it: default '{\"a\": 1}')");
      }
      if (parsed === null) return fail("default must not be null: omit it for a nullable column");
      const value = toJsonValue(parsed);
      return value === undefined ? fail("default must be a JSON value") : ok(value);
    }
    case "enum":
      if (typeof raw === "string" && target.values !== undefined && target.values.includes(raw)) return ok(raw);
      return fail(`default must be one of the enum values (${(target.values ?? []).join(", ")})`);
    case "uuid":
    case "ref":
      if (typeof raw === "string" && UUID_TEXT.test(raw)) return ok(raw.toLowerCase());
      return fail("default must be a UUID");
  }
}
