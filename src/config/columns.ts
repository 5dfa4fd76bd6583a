/**
 * The column DSL of SPEC 3: short form `"<type> [ref-target] [modifiers...]"` and the long-form map.
 * Both forms are read into one draft and checked by the same rules, so they cannot drift apart.
 * Whether a ref's target table exists is checked by the caller, once every table is known.
 */
import type { ColumnDef, ColumnType, JsonValue, OnDelete } from "./types.ts";
import { COLUMN_TYPES } from "./types.ts";
import { ENUM_VALUE_PATTERN, LONG_FORM_KEYS, ON_DELETE_VALUES } from "./column-spec-schema.ts";
import { COLUMN_TYPE_SPECS, DEFAULT_STRING_MAX_LENGTH, normalizeColumnDefault } from "./column-types.ts";
import { checkColumnName, IDENTIFIER_PATTERN, printable } from "./names.ts";

export type ColumnResult = { ok: true; column: ColumnDef } | { ok: false; errors: readonly string[] };

const MAX_LENGTH_LIMIT = 1_000_000;
const FLAG_MODIFIERS = ["required", "unique", "index", "readonly", "hidden"] as const;
type Flag = (typeof FLAG_MODIFIERS)[number];
const LONG_ONLY_KEYS: ReadonlySet<string> = new Set(["min", "max", "values", "table", "on_delete"]);
const SHORT_KEYWORDS: ReadonlySet<string> = new Set([
  ...FLAG_MODIFIERS, ...ON_DELETE_VALUES, "default", "max_length", "min_length",
]);

/** A column as written, before the shared rules run. */
interface ColumnDraft {
  type: ColumnType;
  flags: Record<Flag, boolean>;
  defaultRaw?: { readonly value: unknown };
  maxLength?: number;
  minLength?: number;
  min?: number;
  max?: number;
  values?: unknown;
  refTable?: string;
  onDelete?: OnDelete;
}

interface Token {
  readonly text: string;
  readonly quoted: boolean;
}

function isColumnType(text: string): text is ColumnType {
  return (COLUMN_TYPES as readonly string[]).includes(text);
}

function emptyFlags(): Record<Flag, boolean> {
  return { required: false, unique: false, index: false, readonly: false, hidden: false };
}

/** Splits on whitespace; `"..."` (with \" and \\ escapes) and `'...'` group a token. */
function tokenize(text: string): { ok: true; tokens: Token[] } | { ok: false; error: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let value = "";
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const c = text[j];
        if (c === ch) {
          closed = true;
          break;
        }
        if (ch === '"' && c === "\\" && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
          continue;
        }
        value += c;
        j += 1;
      }
      if (!closed) return { ok: false, error: "unterminated quote in column definition" };
      tokens.push({ text: value, quoted: true });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j])) j += 1;
    tokens.push({ text: text.slice(i, j), quoted: false });
    i = j;
  }
  return { ok: true, tokens };
}

function typeError(text: string): string {
  if (text === "file") return "file columns are not supported (no storage yet)";
  return `unknown type "${printable(text)}" (known types: ${COLUMN_TYPES.join(", ")})`;
}

function parseLengthToken(token: Token | undefined, modifier: string, errors: string[]): number | undefined {
  if (token === undefined || token.quoted || !/^(0|[1-9][0-9]{0,9})$/.test(token.text)) {
    errors.push(`${modifier} needs a whole number: ${modifier} <n>`);
    return undefined;
  }
  return Number(token.text);
}

function readShortForm(text: string, errors: string[]): ColumnDraft | null {
  const tokenized = tokenize(text);
  if (!tokenized.ok) {
    errors.push(tokenized.error);
    return null;
  }
  const tokens = tokenized.tokens;
  if (tokens.length === 0) {
    errors.push(`empty column definition: write "<type> [modifiers...]"`);
    return null;
  }
  const typeToken = tokens[0];
  if (typeToken.quoted || !isColumnType(typeToken.text)) {
    errors.push(typeError(typeToken.text));
    return null;
  }
  const draft: ColumnDraft = { type: typeToken.text, flags: emptyFlags() };
  let i = 1;
  if (draft.type === "ref") {
    const target = tokens[1];
    if (target === undefined || target.quoted || SHORT_KEYWORDS.has(target.text)) {
      errors.push("ref needs a target table: ref <table> [modifiers...]");
    } else {
      draft.refTable = target.text;
      i = 2;
    }
  }
  if (draft.type === "enum") errors.push("enum needs values: use the long form { type: enum, values: [a, b] }");
  const seen = new Set<string>();
  for (; i < tokens.length; i += 1) {
    const token = tokens[i];
    const word = token.text;
    if (token.quoted) {
      errors.push(`unexpected quoted text in column definition (only a default value may be quoted)`);
      continue;
    }
    if (seen.has(word) && SHORT_KEYWORDS.has(word)) {
      errors.push(`modifier "${word}" is repeated`);
    }
    seen.add(word);
    if ((FLAG_MODIFIERS as readonly string[]).includes(word)) {
      draft.flags[word as Flag] = true;
    } else if ((ON_DELETE_VALUES as readonly string[]).includes(word)) {
      if (draft.onDelete !== undefined && draft.onDelete !== word) errors.push("conflicting on-delete modifiers: use one of cascade, set_null, restrict");
      draft.onDelete = word as OnDelete;
    } else if (word === "default") {
      const value = tokens[i + 1];
      if (value === undefined) errors.push("default needs a value: default <value>");
      else draft.defaultRaw = { value: value.text };
      i += 1;
    } else if (word === "max_length" || word === "min_length") {
      const n = parseLengthToken(tokens[i + 1], word, errors);
      if (word === "max_length") draft.maxLength = n;
      else draft.minLength = n;
      i += 1;
    } else if (LONG_ONLY_KEYS.has(word)) {
      errors.push(`"${word}" is only available in the long form ({ type: ${draft.type}, ${word}: ... })`);
    } else {
      errors.push(`unknown modifier "${printable(word)}" (a default with spaces must be quoted: default "two words")`);
    }
  }
  return draft;
}

function readLongForm(map: Record<string, unknown>, errors: string[]): ColumnDraft | null {
  const unknownKeys = Object.keys(map).filter((k: string): boolean => !(LONG_FORM_KEYS as readonly string[]).includes(k));
  for (const key of unknownKeys) {
    errors.push(`unknown key "${printable(key)}" in column definition (allowed: ${LONG_FORM_KEYS.join(", ")})`);
  }
  const type = map.type;
  if (type === undefined) {
    errors.push("the long form needs a type: { type: string, ... }");
    return null;
  }
  if (typeof type !== "string" || !isColumnType(type)) {
    errors.push(typeof type === "string" ? typeError(type) : "type must be a string");
    return null;
  }
  const draft: ColumnDraft = { type, flags: emptyFlags() };
  for (const flag of FLAG_MODIFIERS) {
    const value = map[flag];
    if (value === undefined) continue;
    if (typeof value !== "boolean") errors.push(`${flag} must be true or false`);
    else draft.flags[flag] = value;
  }
  for (const key of ["max_length", "min_length"] as const) {
    const value = map[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) errors.push(`${key} must be a whole number`);
    else if (key === "max_length") draft.maxLength = value;
    else draft.minLength = value;
  }
  for (const key of ["min", "max"] as const) {
    const value = map[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) errors.push(`${key} must be a number`);
    else draft[key] = value;
  }
  if (map.values !== undefined) draft.values = map.values;
  if (map.table !== undefined) {
    if (typeof map.table !== "string") errors.push("table must be a table name");
    else draft.refTable = map.table;
  }
  if (map.on_delete !== undefined) {
    const value = map.on_delete;
    if (typeof value !== "string" || !(ON_DELETE_VALUES as readonly string[]).includes(value)) {
      errors.push(`on_delete must be one of ${ON_DELETE_VALUES.join(", ")}`);
    } else {
      draft.onDelete = value as OnDelete;
    }
  }
  if ("default" in map) draft.defaultRaw = { value: map.default };
  return draft;
}

function checkEnumValues(raw: unknown, errors: string[]): string[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push("enum needs a non-empty list of values: values: [a, b]");
    return undefined;
  }
  const values: string[] = [];
  for (const value of raw) {
    if (typeof value !== "string" || !ENUM_VALUE_PATTERN.test(value)) {
      const shown = typeof value === "string" ? `"${printable(value)}"` : `of type ${value === null ? "null" : typeof value}`;
      errors.push(`enum value ${shown} is invalid: use letters, digits, _ and -`);
      continue;
    }
    if (values.includes(value)) errors.push(`enum value "${value}" is listed twice`);
    else values.push(value);
  }
  return values;
}

/** Applies the rules shared by both forms and builds the ColumnDef. */
function finishColumn(name: string, draft: ColumnDraft, form: "short" | "long", authTable: boolean, errors: string[]): ColumnDef | null {
  const { type } = draft;
  const spec = COLUMN_TYPE_SPECS[type];
  if (!spec.lengths) {
    if (draft.maxLength !== undefined) errors.push("max_length applies only to string and text columns");
    if (draft.minLength !== undefined) errors.push("min_length applies only to string and text columns");
  }
  if (spec.range === null) {
    if (draft.min !== undefined) errors.push("min applies only to int, float and timestamp columns");
    if (draft.max !== undefined) errors.push("max applies only to int, float and timestamp columns");
  } else if (spec.range === "integer") {
    for (const key of ["min", "max"] as const) {
      const value = draft[key];
      if (value !== undefined && !Number.isSafeInteger(value)) errors.push(`${key} must be a whole number on an ${type} column`);
    }
  }
  if (draft.min !== undefined && draft.max !== undefined && draft.min > draft.max) errors.push("min is greater than max");
  let maxLength = draft.maxLength;
  if (type === "string" && maxLength === undefined) maxLength = DEFAULT_STRING_MAX_LENGTH;
  if (maxLength !== undefined && (maxLength < 1 || maxLength > MAX_LENGTH_LIMIT)) errors.push(`max_length must be between 1 and ${MAX_LENGTH_LIMIT}`);
  if (draft.minLength !== undefined && draft.minLength > MAX_LENGTH_LIMIT) errors.push(`min_length must be at most ${MAX_LENGTH_LIMIT}`);
  if (maxLength !== undefined && draft.minLength !== undefined && draft.minLength > maxLength) errors.push("min_length is greater than max_length");

  let values: string[] | undefined;
  if (type === "enum") {
    // The short form already reported that it cannot carry values.
    if (form === "long" || draft.values !== undefined) values = checkEnumValues(draft.values, errors);
  } else if (draft.values !== undefined) {
    errors.push("values applies only to enum columns");
  }

  let onDelete: OnDelete | undefined;
  if (type === "ref") {
    if (draft.refTable === undefined) {
      if (form === "long") errors.push("ref needs a target table: { type: ref, table: <table> }");
    } else if (!IDENTIFIER_PATTERN.test(draft.refTable)) {
      errors.push(`ref target "${printable(draft.refTable)}" is not a valid table name`);
    }
    onDelete = draft.onDelete ?? "restrict";
    if (onDelete === "set_null" && draft.flags.required) errors.push("set_null cannot be combined with required (the column could not be set to null)");
  } else {
    if (draft.refTable !== undefined) errors.push("table applies only to ref columns");
    if (draft.onDelete !== undefined) errors.push(`${draft.onDelete} (on delete) applies only to ref columns`);
  }

  let defaultValue: JsonValue | undefined;
  if (draft.defaultRaw !== undefined && !(type === "enum" && values === undefined)) {
    const normalized = normalizeColumnDefault(draft.defaultRaw.value, {
      type, maxLength, minLength: draft.minLength, min: draft.min, max: draft.max, values,
    }, { form });
    if (normalized.ok) defaultValue = normalized.value;
    else errors.push(normalized.reason);
  }
  const hasDefault = draft.defaultRaw !== undefined;
  if (authTable && draft.flags.readonly && draft.flags.required && !hasDefault) {
    errors.push("a readonly required column on the auth table needs a default (signup could never set it)");
  }
  if (errors.length > 0) return null;

  const column: { -readonly [K in keyof ColumnDef]: ColumnDef[K] } = {
    name,
    type,
    required: draft.flags.required,
    unique: draft.flags.unique,
    index: draft.flags.index || type === "ref",
    hasDefault,
    readonly: draft.flags.readonly,
    hidden: draft.flags.hidden,
  };
  if (defaultValue !== undefined) column.default = defaultValue;
  if (maxLength !== undefined) column.maxLength = maxLength;
  if (draft.minLength !== undefined) column.minLength = draft.minLength;
  if (draft.min !== undefined) column.min = draft.min;
  if (draft.max !== undefined) column.max = draft.max;
  if (values !== undefined) column.values = values;
  if (draft.refTable !== undefined) column.refTable = draft.refTable;
  if (onDelete !== undefined) column.onDelete = onDelete;
  return column;
}

/**
 * Parses one column declaration (short-form string or long-form map) into a ColumnDef.
 * Reports every problem found, not just the first.
 */
export function parseColumn(name: string, raw: unknown, opts: { readonly authTable: boolean }): ColumnResult {
  const errors: string[] = [];
  const nameError = checkColumnName(name, opts);
  if (nameError !== null) errors.push(nameError);
  let draft: ColumnDraft | null;
  let form: "short" | "long";
  if (typeof raw === "string") {
    form = "short";
    draft = readShortForm(raw, errors);
  } else if (raw !== null && typeof raw === "object" && Object.getPrototypeOf(raw) === Object.prototype) {
    form = "long";
    draft = readLongForm(raw as Record<string, unknown>, errors);
  } else {
    errors.push('a column is a string ("string required") or a map ({ type: string, required: true })');
    return { ok: false, errors };
  }
  if (draft === null) return { ok: false, errors };
  const column = finishColumn(name, draft, form, opts.authTable, errors);
  return column === null ? { ok: false, errors } : { ok: true, column };
}
