/**
 * The shape of one column declaration, for the JSON Schema of a project file (`latchkey schema`).
 * The loader reads columns with the column DSL (src/config/columns.ts), whose messages say more
 * than a schema could; the long-form keys it accepts are taken from COLUMN_LONG_FORM below, so the
 * two cannot drift apart. Type-specific rules (max_length only on text types, defaults that fit
 * the type, ref targets) stay in the DSL.
 */
import * as v from "valibot";
import { COLUMN_TYPES } from "./types.ts";

export const ON_DELETE_VALUES = ["cascade", "set_null", "restrict"] as const;
export const ENUM_VALUE_PATTERN = /^[A-Za-z0-9_-]+$/;
const WHOLE = v.pipe(v.number(), v.integer(), v.minValue(0));

/** `{ type: ..., required: ..., ... }`: the long form of a column. */
export const COLUMN_LONG_FORM = v.strictObject({
  type: v.picklist(COLUMN_TYPES),
  required: v.optional(v.boolean()),
  unique: v.optional(v.boolean()),
  index: v.optional(v.boolean()),
  default: v.optional(v.unknown()),
  max_length: v.optional(WHOLE),
  min_length: v.optional(WHOLE),
  min: v.optional(v.number()),
  max: v.optional(v.number()),
  values: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(ENUM_VALUE_PATTERN))), v.minLength(1))),
  table: v.optional(v.string()),
  on_delete: v.optional(v.picklist(ON_DELETE_VALUES)),
  readonly: v.optional(v.boolean()),
  hidden: v.optional(v.boolean()),
});

export const LONG_FORM_KEYS = Object.keys(COLUMN_LONG_FORM.entries) as readonly (keyof typeof COLUMN_LONG_FORM.entries)[];

/** Name of the long form in the JSON Schema's `$defs`. */
export const COLUMN_LONG_FORM_DEF = "column_long_form";

/** `"<type> [ref-target] [modifiers...]"`: the short form starts with a known type. */
export const SHORT_FORM_PATTERN = `^\\s*(${COLUMN_TYPES.join("|")})(\\s|$)`;

/**
 * One column in the loader's table schema: any value here, read by the column DSL afterwards;
 * the metadata is what `latchkey schema` tells editors.
 */
export const COLUMN_SPEC_SCHEMA = v.pipe(
  v.unknown(),
  v.metadata({
    anyOf: [
      { type: "string", pattern: SHORT_FORM_PATTERN },
      { $ref: `#/$defs/${COLUMN_LONG_FORM_DEF}` },
    ],
  }),
);
