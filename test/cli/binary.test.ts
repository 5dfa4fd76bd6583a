import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
    [process.execPath, "build", join(ROOT, "src/main.ts"), join(ROOT, "src/storage/sqlite/checkpoint-worker.ts"), "--compile", "--production", "--bytecode",
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

  it("prints the JSON Schema (the converter is inside the binary) and writes a starter project", async () => {
    const schema = await runCli([bin, "schema"], { cwd: join(dir, "run") });
    expect(schema.code).toBe(0);
    expect(schema.stdout).toBe(readFileSync(join(ROOT, "project.schema.json"), "utf8"));
    const init = await runCli([bin, "init", "starter"], { cwd: join(dir, "run") });
    expect(init.code).toBe(0);
    const checked = await runCli([bin, "check", "--json", "--config", "starter/project.yaml"], { cwd: join(dir, "run") });
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout).projects[0].id).toBe("my-app");
  });

  it("serves the project's OpenAPI document over HTTP", async () => {
    running = await startServe([bin, "serve", "--config", "project.yaml", "--data", "data-openapi", "--port", "0", "--public-url", "https://auth.example.com"], { cwd: join(dir, "run") });
    const r = await fetch(`${running.url}/p/demo/openapi.json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { openapi: string; servers: { url: string }[]; components: { schemas: { User: { properties: Record<string, unknown> } } } };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers[0].url).toBe("https://auth.example.com/p/demo");
    expect(Object.keys(doc.components.schemas.User.properties)).toContain("display_name");
    running.proc.kill("SIGTERM");
    expect(await running.proc.exited).toBe(0);
    running = null;
  }, 30_000);

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

  it("reloads on SIGHUP instead of exiting, serves /metrics with --metrics, and backs up a live project", async () => {
    const run = join(dir, "run");
    running = await startServe([bin, "serve", "--config", "project.yaml", "--data", "data-hup", "--port", "0", "--metrics"], { cwd: run });
    const r = running;
    r.proc.kill("SIGHUP");
    const deadline = Date.now() + 10_000;
    while (!r.stdout().includes('"msg":"configuration reloaded"') && Date.now() < deadline) await Bun.sleep(20);
    expect(r.stdout()).toContain('"msg":"configuration reloaded"');
    expect(r.proc.exitCode).toBeNull();
    const metrics = await fetch(`${r.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('latchkey_config_reloads_total{result="ok"} 1\n');
    const backup = await runCli([bin, "backup", "--project", "demo", "--data", "data-hup", "--out", "demo-backup.db"], { cwd: run });
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    r.proc.kill("SIGTERM");
    expect(await r.proc.exited).toBe(0);
    running = null;
  }, 30_000);
});
