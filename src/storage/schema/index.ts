/** The schema module: declared tables -> SQLite DDL, diff against the live DB, plan, apply, drizzle tables. */
export { applySchema } from "./apply.ts";
export {
  AUTH_BUILTIN_COLUMNS,
  AUTH_PRIVATE_COLUMNS,
  BUILTIN_COLUMNS,
  CREATED_AT_COLUMN,
  EMAIL_CANONICAL_COLUMN,
  EMAIL_COLUMN,
  EMAIL_VERIFIED_COLUMN,
  ID_COLUMN,
  PASSWORD_HASH_COLUMN,
  PASSWORD_VERSION_COLUMN,
  UPDATED_AT_COLUMN,
  emailCanonicalIndexName,
} from "./builtins.ts";
export { createTableSql, indexSql } from "./ddl.ts";
export { buildDrizzleTables, type DeclaredTable } from "./drizzle-tables.ts";
export { SchemaApplyError, SchemaBlockedError, SchemaModelError } from "./errors.ts";
export { buildAppliedModel, buildModelTable, type AppliedModel, type ModelColumn, type ModelIndex, type ModelTable } from "./model.ts";
export { formatPlan, planSchema } from "./plan.ts";
export { readAppliedModel, MODEL_META_KEY } from "./snapshot.ts";
export { destructivePlanId } from "./plan-id.ts";
export type { ApplyOptions, PlanOptions, SchemaChange, SchemaChangeKind, SchemaPlan } from "./types.ts";
