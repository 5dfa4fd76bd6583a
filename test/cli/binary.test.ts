import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli, startServe, type Running } from "./run.ts";
import { rawGet } from "../helpers/raw-http.ts";

// Builds the real single-file executable (same flags as `npm run build`) and runs it from an
// empty directory with no node_modules and no source tree.
let dir = "";
let bin = "";
let running: Running | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-bin-"));
  const build = await runCli(
    [process.execPath, "build", join(ROOT, "src/main.ts"), "--compile", "--production", "--bytecode",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--outfile", join(dir, "build", "latchkey")],
    { cwd: ROOT },
  );
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  mkdirSync(join(dir, "run"));
  bin = join(dir, "run", "latchkey");
  copyFileSync(join(dir, "build", "latchkey"), bin);
  copyFileSync(join(ROOT, "project.example.yaml"), join(dir, "run", "project.yaml"));
  rmSync(join(dir, "build"), { recursive: true });
}, 120_000);

afterAll(() => {
  running?.proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("compiled binary", () => {
  it("prints its version from an empty directory", async () => {
    const r = await runCli([bin, "--version"], { cwd: join(dir, "run") });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^latchkey \d+\.\d+\.\d+/);
  });

  it("checks the example project", async () => {
    const r = await runCli([bin, "check", "--config", "project.yaml"], { cwd: join(dir, "run") });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("project demo");
  });

  it("serves the example project, answers /healthz and /readyz, and exits 0 on SIGTERM", async () => {
    running = await startServe([bin, "serve", "--config", "project.yaml", "--data", "data", "--port", "0"], { cwd: join(dir, "run") });
    const h = await fetch(`${running.url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ data: { status: "ok" } });
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    const signup = await fetch(`${running.url}/p/demo/auth/signup`, { method: "POST", body: "{" });
    expect(signup.status).toBe(400);
    // Hostile paths answer in the envelope in the compiled build too (issue 8, items 1–3).
    const shortHost = await rawGet(running.url, "/healthz/", { host: "a" });
    expect(shortHost.status).toBe(200);
    for (const [path, status, code] of [["/p/%zz/x", 404, "NOT_FOUND"], ["/p/%64emo/auth/me", 404, "PROJECT_NOT_FOUND"], ["/p/demo/./auth/me", 401, "AUTH_REQUIRED"]] as const) {
      const r = await rawGet(running.url, path);
      expect({ path, status: r.status, code: r.json?.error?.code, rid: r.json?.error?.request_id === r.headers["x-request-id"] }).toEqual({ path, status, code, rid: true });
    }
    running.proc.kill("SIGTERM");
    expect(await running.proc.exited).toBe(0);
    running = null;
  }, 30_000);
});
