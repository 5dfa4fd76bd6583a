import { describe, expect, it } from "bun:test";
import { parseArgs, UsageError } from "../cli/args.ts";
import { defaultMaxOpenProjects, FDS_PER_OPEN_PROJECT } from "./pool.ts";

describe("--max-open-projects", () => {
  it("is read from the flag or LATCHKEY_MAX_OPEN_PROJECTS, and absent by default", () => {
    const flag = parseArgs(["serve", "--config", "p.yaml", "--max-open-projects", "2"], {});
    expect(flag.kind === "serve" && flag.options.maxOpenProjects).toBe(2);
    const env = parseArgs(["serve", "--config", "p.yaml"], { LATCHKEY_MAX_OPEN_PROJECTS: "40" });
    expect(env.kind === "serve" && env.options.maxOpenProjects).toBe(40);
    const none = parseArgs(["serve", "--config", "p.yaml"], {});
    expect(none.kind === "serve" && none.options.maxOpenProjects).toBeNull();
  });

  it("refuses anything but a whole number of at least 1", () => {
    for (const bad of ["0", "-1", "2.5", "many", "", "1e3", "99999999999999999999"]) {
      expect(() => parseArgs(["serve", "--config", "p.yaml", "--max-open-projects", bad], {})).toThrow(UsageError);
    }
  });

  it("defaults to what fits well inside the open-files limit, at most 1,000", () => {
    // (1,024 - 512) / FDS_PER_OPEN_PROJECT (5) / 2
    expect(defaultMaxOpenProjects(1_024)).toBe(51);
    expect(defaultMaxOpenProjects(20_000)).toBe(1_000);
    expect(defaultMaxOpenProjects(Infinity)).toBe(1_000);
    expect(defaultMaxOpenProjects(null)).toBe(1_000);
    expect(defaultMaxOpenProjects(256)).toBe(1);
    // Never more descriptors than the limit leaves after the reserve.
    for (const limit of [600, 1_024, 4_096, 8_192]) expect(defaultMaxOpenProjects(limit) * FDS_PER_OPEN_PROJECT).toBeLessThanOrEqual(limit - 512);
  });
});
