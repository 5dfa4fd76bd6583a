import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../cli/run.ts";
import { createServerMetrics } from "../../src/metrics/server-metrics.ts";
import { HELP } from "../../src/cli/args.ts";

const doc = readFileSync(join(ROOT, "docs/operations.md"), "utf8");

describe("docs/operations.md", () => {
  it("documents every metric the server exposes", () => {
    const names = [...createServerMetrics().render().matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(names.length).toBe(14);
    for (const name of names) expect(doc).toContain(`\`${name}\``);
  });

  it("documents the operations commands and flags, and the unit it describes has them", () => {
    for (const text of ["latchkey backup", "latchkey restore", "--watch", "--metrics", "LATCHKEY_METRICS_TOKEN", "SIGHUP", "config/latchkey.service"]) {
      expect(doc).toContain(text);
    }
    for (const text of ["latchkey backup", "latchkey restore", "--watch", "--metrics", "LATCHKEY_METRICS_TOKEN"]) expect(HELP).toContain(text);
    const unit = readFileSync(join(ROOT, "config/latchkey.service"), "utf8");
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^ExecStart=.* serve .*--metrics/m);
  });

  it("points to nothing outside the repository", () => {
    expect(doc).not.toMatch(/\.\.\/shared|\/work\/|SPEC\.md/);
    for (const [, target] of doc.matchAll(/\]\(([^)#]+)[^)]*\)/g)) {
      expect(target.startsWith("http") || readFileSync(join(ROOT, "docs", target), "utf8").length > 0).toBe(true);
    }
  });
});
