/** Public planning API: what would change, and whether it may be applied. */
import type { Database } from "bun:sqlite";
import type { TableDef } from "../../config/types.ts";
import { sqliteSchemaReader } from "./introspect.ts";
import type { PlannedChange } from "./planned-change.ts";
import { destructivePlanId } from "./plan-id.ts";
import { computePlan } from "./planner.ts";
import type { PlanOptions, SchemaChange, SchemaPlan } from "./types.ts";

/**
 * Whether `confirm_destructive` covers the destructive changes: a plan id covers exactly the plan
 * with that id; `true` (deprecated, accepted for one release with a warning) covers the first
 * destructive plan it meets and is spent from then on, for as long as the file keeps saying `true`.
 */
function confirmation(planId: string | null, opts: PlanOptions): { confirmed: boolean; note: string | null } {
  if (planId === null) return { confirmed: true, note: null };
  const given = opts.confirmDestructive;
  if (given === planId) return { confirmed: true, note: null };
  if (given === true) {
    if (opts.trueSpentOn) {
      return {
        confirmed: false,
        note: `confirm_destructive: true already confirmed plan ${opts.trueSpentOn}; it does not confirm this one (write confirm_destructive: ${planId})`,
      };
    }
    return { confirmed: true, note: `confirm_destructive: true is deprecated: write confirm_destructive: ${planId} (this plan's id) instead` };
  }
  if (typeof given === "string") {
    return { confirmed: false, note: `confirm_destructive names plan ${given}, but the destructive plan is now ${planId}: review it, then write confirm_destructive: ${planId}` };
  }
  return { confirmed: false, note: null };
}

export function toSchemaPlan(planned: readonly PlannedChange[], opts: PlanOptions): SchemaPlan {
  const changes = planned.map((p) => p.change);
  const destructive = changes.filter((c) => c.destructive);
  const conflicts = changes.filter((c) => c.conflict);
  const planId = destructivePlanId(destructive);
  const { confirmed, note } = confirmation(planId, opts);
  return {
    changes,
    destructive,
    conflicts,
    blocked: conflicts.length > 0 || !confirmed,
    planId,
    confirmNote: note,
  };
}

/**
 * The plan for bringing `db` to the declared tables; `db` null means an empty database.
 * Never writes: safe on a read-only handle (`latchkey check`).
 */
export function planSchema(db: Database | null, tables: readonly TableDef[], opts: PlanOptions): SchemaPlan {
  return toSchemaPlan(computePlan(db ? sqliteSchemaReader(db) : null, tables).changes, opts);
}

function marker(change: SchemaChange): string {
  if (change.conflict) return "x";
  return change.destructive ? "!" : "+";
}

/**
 * One line per change: `+` applied automatically, `!` destructive (needs `confirm_destructive: <plan id>`),
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
    lines.push(`blocked: ${plan.destructive.length} destructive change(s) need \`confirm_destructive: ${plan.planId}\``);
  }
  if (plan.planId !== null) lines.push(`plan id: ${plan.planId}`);
  if (plan.confirmNote !== null && plan.conflicts.length === 0) lines.push(`note: ${plan.confirmNote}`);
  return lines.join("\n");
}
