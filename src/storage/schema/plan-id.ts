/**
 * The id of a destructive plan: a short hash of what its destructive changes do, printed by
 * `latchkey check` and written back as `confirm_destructive: <plan id>`. It covers the kind, table,
 * column and description of each destructive change, with row counts left out, so the id does not
 * move while users keep signing up between the check and the deploy, but any other destructive
 * change gives a different id.
 */
import { createHash } from "node:crypto";
import type { SchemaChange } from "./types.ts";

const ROW_COUNT = /\b\d+ rows?( (has|have))?\b/g;

export function destructivePlanId(destructive: readonly SchemaChange[]): string | null {
  if (destructive.length === 0) return null;
  const text = destructive
    .map((c) => [c.kind, c.table, c.column ?? "", c.description.replace(ROW_COUNT, "N rows")].join("\u0000"))
    .join("\n");
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
