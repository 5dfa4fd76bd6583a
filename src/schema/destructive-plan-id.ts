import { createHash } from "node:crypto";
import type { SchemaPlan } from "./types.ts";

/**
 * A short id of a plan's destructive changes: the same changes give the same id, any other
 * destructive change another one. Names the automatic backup `{id}.before-{plan id}.db`.
 */
export function destructivePlanId(plan: Pick<SchemaPlan, "destructive">): string {
  const text = plan.destructive.map((c) => `${c.kind}\u0000${c.table}\u0000${c.column ?? ""}\u0000${c.description}`).join("\n");
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
