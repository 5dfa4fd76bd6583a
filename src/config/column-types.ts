/**
 * One definition per column type (SPEC 3): how a declared default is read, how a request value is
 * checked and stored, how a stored value reads back, which SQL type holds it and what `now` means.
 * The project-file loader (defaults), the request modules (signup, PATCH /auth/me) and the schema
 * model (SQL types and DEFAULT clauses) all use this table, so a type's rules cannot drift apart.
 * Messages never echo the value.
 */
import { DEFAULT_NOW, type ColumnType, type JsonValue } from "./types.ts";

export type SqlType = "TEXT" | "INTEGER" | "REAL";
/** What SQLite holds for a custom column (bool as 0/1, json as text). */
export type StoredValue = string | number | null;

/** The parts of a column that values and defaults must agree with. */
export interface ColumnRules {
  readonly type: ColumnType;
  readonly maxLength?: number;
  readonly minLength?: number;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const DEFAULT_STRING_MAX_LENGTH = 255;

interface ColumnTypeSpec {
  readonly sqlType: SqlType;
  /** string/text: max_length / min_length apply. */
  readonly lengths: boolean;
  /** int/float/timestamp: min / max apply; "integer" when they must be whole numbers. */
  readonly range: "integer" | "real" | null;
  /** date/datetime/timestamp: `default now`, the stored value of that instant. */
  readonly now: ((nowMs: number) => StoredValue) | null;
  /** A JSON request value -> the stored value; the reason completes `"<field>" must be ...`. */
  store(value: unknown, rules: ColumnRules): Checked<StoredValue>;
  /** A declared default (text in the short form, text or a YAML value in the long form) -> its JSON value. */
  normalizeDefault(raw: unknown, rules: ColumnRules, form: "short" | "long"): Checked<JsonValue>;
  /** The stored value -> its JSON value (after NULL was handled). */
  read(stored: unknown): unknown;
}

const INTEGER_TEXT = /^-?(0|[1-9][0-9]*)$/;
const FLOAT_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const DATE_TEXT = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const DATETIME_TEXT = /^([0-9]{4}-[0-9]{2}-[0-9]{2})T([01][0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9])(\.[0-9]{1,9})?)?(Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))$/;
export const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = <T>(reason: string): Checked<T> => ({ ok: false, reason });

/** Milliseconds of a UTC date and time; any four-digit year (Date.UTC maps 0–99 to 1900–1999). */
function utcMs(year: number, month: number, day: number, h = 0, m = 0, s = 0, ms = 0): number {
  const d = new Date(Date.UTC(2000, month - 1, day, h, m, s, ms));
  d.setUTCFullYear(year, month - 1, day);
  return d.getTime();
}

/** `YYYY-MM-DD` naming a day that exists (no 2023-02-29, no month 13). */
export function isCalendarDate(text: string): boolean {
  const m = DATE_TEXT.exec(text);
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  const d = new Date(utcMs(year, month, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/**
 * An ISO 8601 date-time with a time zone (`Z` or `±hh:mm`), checked field by field: a real
 * calendar day, hours 00–23, minutes and seconds 00–59. Never rolled over to another day, unlike
 * `Date.parse`. Fractions beyond milliseconds are cut. Null when it is not one.
 */
export function parseDatetimeMs(text: string): number | null {
  const m = DATETIME_TEXT.exec(text);
  if (m === null || !isCalendarDate(m[1])) return null;
  const [year, month, day] = m[1].split("-").map(Number);
  const fractionMs = m[6] === undefined ? 0 : Number(m[6].slice(1, 4).padEnd(3, "0"));
  const offsetMinutes = m[7] === "Z" ? 0 : (m[8] === "-" ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  return utcMs(year, month, day, Number(m[2]), Number(m[3]), Number(m[5] ?? "0"), fractionMs) - offsetMinutes * 60_000;
}

/** Stored form of a datetime: UTC with milliseconds (`2021-02-03T02:05:06.000Z`). */
function isoOf(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Code points, not UTF-16 units, so an emoji counts as one character. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
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

function inRange(n: number, rules: ColumnRules): string | null {
  if (rules.min !== undefined && n < rules.min) return `at least ${rules.min}`;
  if (rules.max !== undefined && n > rules.max) return `at most ${rules.max}`;
  return null;
}

function defaultInRange(n: number, rules: ColumnRules): Checked<JsonValue> {
  if (rules.min !== undefined && n < rules.min) return fail("default is below the column's min");
  if (rules.max !== undefined && n > rules.max) return fail("default is above the column's max");
  return ok(n);
}

function maxLengthOf(rules: ColumnRules): number | undefined {
  return rules.maxLength ?? (rules.type === "string" ? DEFAULT_STRING_MAX_LENGTH : undefined);
}

const plainRead = (stored: unknown): unknown => (typeof stored === "bigint" ? Number(stored) : stored);

const textSpec: Omit<ColumnTypeSpec, "sqlType"> = {
  lengths: true,
  range: null,
  now: null,
  store(value, rules) {
    if (typeof value !== "string") return fail("a string");
    const len = codePointLength(value);
    const max = maxLengthOf(rules);
    if (max !== undefined && len > max) return fail(`at most ${max} characters long`);
    if (rules.minLength !== undefined && len < rules.minLength) return fail(`at least ${rules.minLength} characters long`);
    return ok(value);
  },
  normalizeDefault(raw, rules) {
    if (typeof raw !== "string") return fail("default must be a string");
    const length = codePointLength(raw);
    if (rules.maxLength !== undefined && length > rules.maxLength) return fail("default is longer than max_length");
    if (rules.minLength !== undefined && length < rules.minLength) return fail("default is shorter than min_length");
    return ok(raw);
  },
  read: plainRead,
};

function integerSpec(what: string, now: ColumnTypeSpec["now"]): ColumnTypeSpec {
  return {
    sqlType: "INTEGER",
    lengths: false,
    range: "integer",
    now,
    store(value, rules) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) return fail("an integer");
      const range = inRange(value, rules);
      return range === null ? ok(value) : fail(range);
    },
    normalizeDefault(raw, rules) {
      if (now !== null && raw === DEFAULT_NOW) return ok(DEFAULT_NOW);
      let value: number;
      if (typeof raw === "number") value = raw;
      else if (typeof raw === "string" && INTEGER_TEXT.test(raw)) value = Number(raw);
      else return fail(`default must be ${what}`);
      if (!Number.isSafeInteger(value)) return fail(`default must be ${what}`);
      return defaultInRange(value, rules);
    },
    read: plainRead,
  };
}

const uuidSpec: ColumnTypeSpec = {
  sqlType: "TEXT",
  lengths: false,
  range: null,
  now: null,
  store(value) {
    if (typeof value !== "string" || !UUID_TEXT.test(value)) return fail("a UUID");
    return ok(value.toLowerCase());
  },
  normalizeDefault(raw) {
    if (typeof raw === "string" && UUID_TEXT.test(raw)) return ok(raw.toLowerCase());
    return fail("default must be a UUID");
  },
  read: plainRead,
};

export const COLUMN_TYPE_SPECS: Readonly<Record<ColumnType, ColumnTypeSpec>> = {
  string: { sqlType: "TEXT", ...textSpec },
  text: { sqlType: "TEXT", ...textSpec },
  int: integerSpec("an integer", null),
  timestamp: integerSpec("a whole number of unix seconds or now", (nowMs) => Math.floor(nowMs / 1000)),
  float: {
    sqlType: "REAL",
    lengths: false,
    range: "real",
    now: null,
    store(value, rules) {
      if (typeof value !== "number" || !Number.isFinite(value)) return fail("a number");
      const range = inRange(value, rules);
      return range === null ? ok(value) : fail(range);
    },
    normalizeDefault(raw, rules) {
      let value: number;
      if (typeof raw === "number") value = raw;
      else if (typeof raw === "string" && FLOAT_TEXT.test(raw)) value = Number(raw);
      else return fail("default must be a number");
      if (!Number.isFinite(value)) return fail("default must be a finite number");
      return defaultInRange(value, rules);
    },
    read: plainRead,
  },
  bool: {
    sqlType: "INTEGER",
    lengths: false,
    range: null,
    now: null,
    store(value) {
      if (typeof value !== "boolean") return fail("true or false");
      return ok(value ? 1 : 0);
    },
    normalizeDefault(raw) {
      if (raw === true || raw === "true") return ok(true);
      if (raw === false || raw === "false") return ok(false);
      return fail("default must be true or false");
    },
    read: (stored) => stored === 1 || stored === 1n,
  },
  date: {
    sqlType: "TEXT",
    lengths: false,
    range: null,
    now: (nowMs) => new Date(nowMs).toISOString().slice(0, 10),
    store(value) {
      if (typeof value !== "string" || !DATE_TEXT.test(value)) return fail('a date "YYYY-MM-DD"');
      if (!isCalendarDate(value)) return fail("a real calendar date");
      return ok(value);
    },
    normalizeDefault(raw) {
      if (raw === DEFAULT_NOW) return ok(DEFAULT_NOW);
      if (typeof raw === "string" && isCalendarDate(raw)) return ok(raw);
      return fail("default must be a calendar date YYYY-MM-DD or now");
    },
    read: plainRead,
  },
  datetime: {
    sqlType: "TEXT",
    lengths: false,
    range: null,
    now: (nowMs) => new Date(nowMs).toISOString(),
    store(value) {
      if (typeof value !== "string" || !DATETIME_TEXT.test(value)) return fail("an ISO 8601 date-time with a time zone");
      const ms = parseDatetimeMs(value);
      const iso = ms === null ? null : isoOf(ms);
      return iso === null ? fail("a valid ISO 8601 date-time (a real calendar date and time)") : ok(iso);
    },
    normalizeDefault(raw) {
      const reason = "default must be an ISO 8601 date-time with a time zone (2024-01-31T12:00:00Z), a date (2024-01-31) or now";
      if (typeof raw !== "string") return fail(reason);
      if (raw === DEFAULT_NOW) return ok(DEFAULT_NOW);
      // A bare date in a project file means midnight UTC (a request value needs the time and zone).
      const ms = isCalendarDate(raw) ? parseDatetimeMs(`${raw}T00:00Z`) : parseDatetimeMs(raw);
      const iso = ms === null ? null : isoOf(ms);
      return iso === null ? fail(reason) : ok(iso);
    },
    read: plainRead,
  },
  json: {
    sqlType: "TEXT",
    lengths: false,
    range: null,
    now: null,
    store(value) {
      return ok(JSON.stringify(value));
    },
    normalizeDefault(raw, _rules, form) {
      if (form === "long") {
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
    },
    read(stored) {
      if (typeof stored !== "string") return plainRead(stored);
      try {
        return JSON.parse(stored);
      } catch {
        return null;
      }
    },
  },
  enum: {
    sqlType: "TEXT",
    lengths: false,
    range: null,
    now: null,
    store(value, rules) {
      if (typeof value !== "string" || !(rules.values ?? []).includes(value)) return fail(`one of ${(rules.values ?? []).join(", ")}`);
      return ok(value);
    },
    normalizeDefault(raw, rules) {
      if (typeof raw === "string" && rules.values !== undefined && rules.values.includes(raw)) return ok(raw);
      return fail(`default must be one of the enum values (${(rules.values ?? []).join(", ")})`);
    },
    read: plainRead,
  },
  uuid: uuidSpec,
  ref: uuidSpec,
};

/** Checks a declared default against the column and returns it in the column's JSON type. */
export function normalizeColumnDefault(raw: unknown, rules: ColumnRules, opts: { readonly form: "short" | "long" }): Checked<JsonValue> {
  if (raw === null || raw === undefined) return fail("default must not be null: omit it for a nullable column");
  return COLUMN_TYPE_SPECS[rules.type].normalizeDefault(raw, rules, opts.form);
}

/** A (non-null) JSON value -> the stored value, or the reason it is refused. */
export function storeColumnValue(rules: ColumnRules, value: unknown): Checked<StoredValue> {
  return COLUMN_TYPE_SPECS[rules.type].store(value, rules);
}

/** The stored value -> its JSON value (SQL NULL reads as null). */
export function readColumnValue(type: ColumnType, stored: unknown): unknown {
  if (stored === null || stored === undefined) return null;
  return COLUMN_TYPE_SPECS[type].read(stored);
}

/** The stored value of `default now` at `nowMs`, or null for a type without `now`. */
export function nowValueOf(type: ColumnType, nowMs: number): StoredValue {
  const now = COLUMN_TYPE_SPECS[type].now;
  return now === null ? null : now(nowMs);
}

export function supportsNow(type: ColumnType): boolean {
  return COLUMN_TYPE_SPECS[type].now !== null;
}

export function sqlTypeOf(type: ColumnType): SqlType {
  return COLUMN_TYPE_SPECS[type].sqlType;
}
