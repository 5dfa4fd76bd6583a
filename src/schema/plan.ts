/** Public planning API: what would change, and whether it may be applied. */
import type { Database } from "bun:sqlite";
import type { TableDef } from "../config/types.ts";
import type { PlannedChange } from "./planned-change.ts";
import { computePlan } from "./planner.ts";
import type { PlanOptions, SchemaChange, SchemaPlan } from "./types.ts";

export function toSchemaPlan(planned: readonly PlannedChange[], opts: PlanOptions): SchemaPlan {
  const changes = planned.map((p) => p.change);
  const destructive = changes.filter((c) => c.destructive);
  const conflicts = changes.filter((c) => c.conflict);
  return {
    changes,
    destructive,
    conflicts,
    blocked: conflicts.length > 0 || (destructive.length > 0 && !opts.confirmDestructive),
  };
}

/**
 * The plan for bringing `db` to the declared tables; `db` null means an empty database.
 * Never writes: safe on a read-only handle (`latchkey check`).
 */
export function planSchema(db: Database | null, tables: readonly TableDef[], opts: PlanOptions): SchemaPlan {
  return toSchemaPlan(computePlan(db, tables).changes, opts);
}

function marker(change: SchemaChange): string {
  if (change.conflict) return "x";
  return change.destructive ? "!" : "+";
}

/**
 * One line per change: `+` applied automatically, `!` destructive (needs confirm_destructive),
 * `x` refused until fixed by hand; then one line saying whether the plan is blocked.
 */
export function formatPlan(plan: SchemaPlan): string {
  if (plan.changes.length === 0) return "schema is up to date";
  const lines = plan.changes.map((c) => {
    const tag = c.conflict ? "  [conflict]" : c.destructive ? "  [destructive]" : "";
    return `${marker(c)} ${c.description}${tag}`;
  });
  if (plan.conflicts.length > 0) {
    lines.push(`blocked: ${plan.conflicts.length} change(s) cannot be applied until fixed by hand`);
  } else if (plan.blocked) {
    lines.push(`blocked: ${plan.destructive.length} destructive change(s) need \`confirm_destructive: true\``);
  }
  return lines.join("\n");
}
