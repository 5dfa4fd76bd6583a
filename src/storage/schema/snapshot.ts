/** Reading and writing the applied-model snapshot kept in `_latchkey_meta` under key `model`. */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { COLUMN_TYPES } from "../../config/types.ts";
import type { AppliedModel } from "./model.ts";

export const MODEL_META_KEY = "model";

const ModelColumnSchema = v.object({
  name: v.string(),
  type: v.picklist(COLUMN_TYPES),
  sqlType: v.picklist(["TEXT", "INTEGER", "REAL"]),
  primaryKey: v.boolean(),
  notNull: v.boolean(),
  defaultSql: v.nullable(v.string()),
  enumValues: v.nullable(v.array(v.string())),
  ref: v.nullable(v.object({ table: v.string(), onDelete: v.picklist(["cascade", "set_null", "restrict"]) })),
  appDefault: v.nullable(v.picklist(["now", "uuid"])),
});

const AppliedModelSchema = v.object({
  version: v.literal(1),
  tables: v.array(
    v.object({
      name: v.string(),
      authTable: v.boolean(),
      columns: v.array(ModelColumnSchema),
      indexes: v.array(v.object({ name: v.string(), columns: v.array(v.string()), unique: v.boolean() })),
    }),
  ),
});

function metaTableExists(db: Database): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_latchkey_meta'").get() !== null;
}

/**
 * The stored snapshot, or null when there is none. An unreadable snapshot is also treated as
 * missing: every live table is then verified column by column before it is adopted, so nothing is
 * trusted blindly.
 */
export function readAppliedModel(db: Database): AppliedModel | null {
  if (!metaTableExists(db)) return null;
  const row = db.query("SELECT value FROM _latchkey_meta WHERE key = ?").get(MODEL_META_KEY) as { value: string } | null;
  return parseAppliedModel(row?.value ?? null);
}

/** A stored snapshot's text -> the model; null when missing or unreadable (same rule for every engine). */
export function parseAppliedModel(text: string | null): AppliedModel | null {
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = v.safeParse(AppliedModelSchema, json);
  return parsed.success ? parsed.output : null;
}

export function serializeAppliedModel(model: AppliedModel): string {
  return JSON.stringify(model);
}

/** Must run inside the apply transaction. */
export function writeAppliedModel(db: Database, model: AppliedModel): void {
  db.query(
    "INSERT INTO _latchkey_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  ).run(MODEL_META_KEY, serializeAppliedModel(model));
}

/** The raw stored text, to skip a rewrite when nothing changed. */
export function readAppliedModelText(db: Database): string | null {
  if (!metaTableExists(db)) return null;
  const row = db.query("SELECT value FROM _latchkey_meta WHERE key = ?").get(MODEL_META_KEY) as { value: string } | null;
  return row?.value ?? null;
}
