import { describe, expect, it } from "bun:test";
import { parseArgs, UsageError } from "./args.ts";

describe("operations arguments", () => {
  it("reads --watch and --metrics for serve (both off by default)", () => {
    const on = parseArgs(["serve", "--config", "p.yaml", "--watch", "--metrics"], {});
    expect(on.kind === "serve" && on.options.watch && on.options.metrics).toBe(true);
    const off = parseArgs(["serve", "--config", "p.yaml"], {});
    expect(off.kind === "serve" && !off.options.watch && !off.options.metrics).toBe(true);
  });

  it("parses backup and restore, with the data dir from the flag, the environment or ./data", () => {
    expect(parseArgs(["backup", "--project", "demo", "--out", "b.db"], {})).toEqual({ kind: "backup", projectId: "demo", outPath: "b.db", dataDir: "./data" });
    expect(parseArgs(["restore", "--project", "demo", "--from", "b.db"], { LATCHKEY_DATA_DIR: "/srv/d" })).toEqual({
      kind: "restore", projectId: "demo", fromPath: "b.db", dataDir: "/srv/d",
    });
    expect(parseArgs(["backup", "--project", "demo", "--out", "b.db", "--data", "x"], { LATCHKEY_DATA_DIR: "/srv/d" })).toMatchObject({ dataDir: "x" });
  });

  it("refuses incomplete or mixed-up backup and restore commands", () => {
    for (const argv of [
      ["backup", "--project", "demo"],
      ["backup", "--out", "b.db"],
      ["restore", "--project", "demo", "--out", "b.db"],
      ["backup", "--project", "demo", "--from", "b.db"],
      ["restore", "extra", "--project", "demo", "--from", "b.db"],
    ]) {
      expect(() => parseArgs(argv, {})).toThrow(UsageError);
    }
  });
});
