import type { SchemaPlan } from "./types.ts";

/** The plan has destructive changes without `confirm_destructive`, or conflicts nobody can confirm. */
export class SchemaBlockedError extends Error {
  readonly plan: SchemaPlan;

  constructor(plan: SchemaPlan) {
    const lines = [...plan.conflicts, ...plan.destructive.filter((c) => !c.conflict)].map((c) => `  - ${c.description}`);
    const hint = plan.conflicts.length > 0
      ? "fix the conflicting tables by hand"
      : `set \`confirm_destructive: ${plan.planId}\` in the project file to apply them${plan.confirmNote ? `; ${plan.confirmNote}` : ""}`;
    super(`schema changes are blocked (${hint}):\n${lines.join("\n")}`);
    this.name = "SchemaBlockedError";
    this.plan = plan;
  }
}

/** Applying a plan failed (duplicate data for a unique index, a broken reference, ...); nothing was changed. */
export class SchemaApplyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SchemaApplyError";
  }
}

/** The declared tables cannot be turned into a schema (e.g. two indexes would get the same name). */
export class SchemaModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaModelError";
  }
}
