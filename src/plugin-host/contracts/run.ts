/** Runs contract checks one after another and prints the pass/fail table of `latchkey plugin test`. */
import type { ContractCheck } from "./check.ts";

export interface CheckResult {
  readonly name: string;
  readonly status: "pass" | "fail" | "skip";
  /** Why it failed or was skipped. */
  readonly detail?: string;
  readonly ms: number;
}

/** Longest a single check may take before it counts as failed (a hung send, a hash that never ends). */
export const CHECK_TIMEOUT_MS = 30_000;

async function withTimeout(run: () => Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks(checks: readonly ContractCheck[], timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    if (check.skip !== undefined) {
      results.push({ name: check.name, status: "skip", detail: check.skip, ms: 0 });
      continue;
    }
    const started = performance.now();
    try {
      await withTimeout(() => check.run(), timeoutMs);
      results.push({ name: check.name, status: "pass", ms: performance.now() - started });
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      results.push({ name: check.name, status: "fail", detail, ms: performance.now() - started });
    }
  }
  return results;
}

const STATUS_LABEL = { pass: "PASS", fail: "FAIL", skip: "SKIP" } as const;

/** One line per check (`PASS`/`FAIL`/`SKIP`, name, time), reasons indented below, then the totals. */
export function formatResults(title: string, results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length), 10);
  const lines = [title, `  ${"result".padEnd(6)}  ${"check".padEnd(width)}  time`];
  for (const r of results) {
    const time = r.status === "skip" ? "" : `${Math.round(r.ms)} ms`;
    lines.push(`  ${STATUS_LABEL[r.status].padEnd(6)}  ${r.name.padEnd(width)}  ${time}`.trimEnd());
    if (r.detail !== undefined) lines.push(`          ${r.status === "fail" ? "why" : "note"}: ${r.detail.replace(/[\x00-\x1f\x7f]+/g, " ")}`);
  }
  const count = (s: CheckResult["status"]): number => results.filter((r) => r.status === s).length;
  lines.push(`${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`);
  return `${lines.join("\n")}\n`;
}
