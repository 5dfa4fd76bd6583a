import { describe, expect, it } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CASES } from "../config/bad-cases.ts";
import { writeTree } from "../config/helpers.ts";
import { ROOT, runCli } from "./run.ts";

// Every bad project file of the loader's table, through the real CLI: `serve` must exit 2 before
// the port opens (no "listening" line, not even a data directory), naming the file and key path.
describe("latchkey serve with a bad project file", () => {
  it("covers at least 30 bad files", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  for (const c of CASES) {
    it(`exits 2 before listening and names ${c.path || "the file"} for ${c.name}`, async () => {
      const dir = writeTree(c.files);
      const data = join(dir, "data");
      try {
        const r = await runCli([process.execPath, join(ROOT, "src/main.ts"), "serve", "--config", dir, "--data", data, "--port", "0"], { env: c.env });
        expect(r.code).toBe(2);
        expect(r.stdout).not.toContain("listening on");
        expect(existsSync(data)).toBe(false);
        const file = join(dir, c.file ?? "demo.yaml");
        expect(r.stderr).toContain(c.path === "" ? `${file}: ` : `${file}: ${c.path}: `);
        expect(r.stderr).toContain(c.message);
        for (const secret of c.secrets ?? []) expect(r.stderr + r.stdout).not.toContain(secret);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
