import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli, startServe, type Running } from "./run.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const CHEAP = "auth:\n  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }\n";

let dir = "";
let running: Running | null = null;
afterEach(() => {
  running?.proc.kill("SIGKILL");
  running = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});
const tmp = (): string => (dir = mkdtempSync(join(tmpdir(), "latchkey-cli-")));

describe("latchkey CLI", () => {
  it("prints its version and help with exit 0", async () => {
    const v = await runCli([BUN, MAIN, "--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^latchkey \d+\.\d+\.\d+/);
    const h = await runCli([BUN, MAIN, "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("latchkey serve");
  });

  it("exits 2 on bad usage", async () => {
    for (const args of [["serve", "--bogus"], ["frobnicate"], ["serve", "--config", join(ROOT, "project.example.yaml"), "--port", "99999"], ["keys", "rotate", "--project", "demo"]]) {
      const r = await runCli([BUN, MAIN, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
  });

  it("prints the usage message the argument parser chose, then the hint, and nothing on stdout", async () => {
    for (const [args, message] of [
      [["serve", "--watch=1"], "--watch takes no value"],
      [["check", "--config", "p.yaml", "--metrics"], "--metrics is not an option of `latchkey check`"],
      [["backup", "--project", "demo"], "usage: latchkey backup --project ID --out FILE [--data DIR]"],
    ] as const) {
      const r = await runCli([BUN, MAIN, ...args]);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 2, stdout: "", stderr: `latchkey: ${message}\nRun \`latchkey --help\` for usage.\n` });
    }
  });

  it("keys rotate, backup and restore answer 2 for a project without a database, naming the file", async () => {
    const d = tmp();
    const keys = await runCli([BUN, MAIN, "keys", "rotate", "--project", "ghost", "--both", "--data", d]);
    expect(keys.code).toBe(2);
    expect(keys.stderr).toBe(`latchkey: no database for project ghost at ${join(d, "ghost.db")}\n`);
    const backup = await runCli([BUN, MAIN, "backup", "--project", "ghost", "--out", join(d, "b.db"), "--data", d]);
    expect(backup.code).toBe(2);
    expect(backup.stdout).toBe("");
  });

  it("check validates the example project and prints a plan without writing", async () => {
    const d = tmp();
    const r = await runCli([BUN, MAIN, "check", "--config", join(ROOT, "project.example.yaml"), "--data", join(d, "data")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("project demo");
    expect(r.stdout).toMatch(/users/);
    expect(existsSync(join(d, "data"))).toBe(false);
  });

  it("serve refuses an invalid project file before the port opens, naming file and key path, exit 2", async () => {
    const d = tmp();
    const file = join(d, "bad.yaml");
    writeFileSync(file, "id: demo\ntables:\n  users:\n    auth_table: true\n    columns:\n      role: { type: enum }\n");
    const r = await runCli([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain("tables.users.columns.role");
    expect(r.stdout).not.toContain("listening on");
  });

  it("serve never echoes a secret value from a bad key", async () => {
    const d = tmp();
    const file = join(d, "p.yaml");
    writeFileSync(file, "id: demo\nkeys:\n  admin: ${ADMIN}\n");
    const r = await runCli([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"], { env: { ADMIN: "sk_tooShortSecretValue" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("keys.admin");
    expect(r.stderr + r.stdout).not.toContain("tooShortSecretValue");
  });

  it("serve listens, prints keys once, answers /healthz over HTTP, and exits 0 on SIGTERM", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    writeFileSync(file, `id: demo\ntables:\n  users:\n    auth_table: true\n    columns: {}\n${CHEAP}`);
    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"]);
    expect(running.stdout()).toMatch(/project demo: admin key sk_[A-Za-z0-9_-]{43} public key pk_[A-Za-z0-9_-]{43} \(shown once\)/);
    const res = await fetch(`${running.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { status: "ok" } });
    expect(statSync(join(d, "data", "server.key")).mode & 0o777).toBe(0o600);
    running.proc.kill("SIGTERM");
    expect(await running.proc.exited).toBe(0);
    running = null;
    // Second boot: no keys printed again.
    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"]);
    expect(running.stdout()).not.toContain("shown once");
    running.proc.kill("SIGINT");
    expect(await running.proc.exited).toBe(0);
    running = null;
  });

  it("keys rotate replaces the admin key offline and prints it", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    writeFileSync(file, `id: demo\n${CHEAP}`);
    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"]);
    const oldKey = /admin key (sk_\S+)/.exec(running.stdout())![1];
    running.proc.kill("SIGTERM");
    await running.proc.exited;
    running = null;
    const r = await runCli([BUN, MAIN, "keys", "rotate", "--project", "demo", "--admin", "--data", join(d, "data")]);
    expect(r.code).toBe(0);
    const newKey = /^admin_key=(sk_[A-Za-z0-9_-]{43})$/m.exec(r.stdout)![1];
    expect(r.stdout).not.toContain("public_key=");
    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"]);
    const get = (k: string) => fetch(`${running!.url}/p/demo/v1/redirect-origins`, { headers: { "x-admin-key": k } });
    expect((await get(oldKey)).status).toBe(401);
    expect((await get(newKey)).status).toBe(200);
  });

  it("check --data prints the real plan and exits 2 on a destructive change, touching nothing", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    const data = join(d, "data");
    writeFileSync(file, `id: demo\ntables:\n  notes:\n    columns:\n      body: text\n      title: string\n${CHEAP}`);
    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", data, "--port", "0"]);
    running.proc.kill("SIGTERM");
    await running.proc.exited;
    running = null;
    writeFileSync(file, `id: demo\ntables:\n  notes:\n    columns:\n      body: int\n      extra: bool default false\n${CHEAP}`);
    const before = readFileSync(join(data, "demo.db"));
    const r = await runCli([BUN, MAIN, "check", "--config", file, "--data", data]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain("title");
    expect(r.stdout + r.stderr).toContain("extra");
    expect(r.stdout + r.stderr).toContain("confirm_destructive");
    expect(readFileSync(join(data, "demo.db")).equals(before)).toBe(true);
    const db = new Database(join(data, "demo.db"), { readonly: true });
    const cols = (db.query("PRAGMA table_info(notes)").all() as { name: string }[]).map((c) => c.name);
    db.close();
    expect(cols).toContain("title");
    expect(cols).not.toContain("extra");
  });

  it("on SIGTERM finishes the requests in flight, then exits 0", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    // The default argon2id cost (~45 ms a hash, two at a time), so eight signups are in flight for a while.
    writeFileSync(file, "id: demo\ntables:\n  users:\n    auth_table: true\n    columns: {}\n");
    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", join(d, "data"), "--port", "0"]);
    const url = running.url;
    const answers = Array.from({ length: 8 }, (_, i) =>
      fetch(`${url}/p/demo/auth/signup`, { method: "POST", body: JSON.stringify({ email: `u${i}@example.com`, password: "correct horse battery" }) }),
    );
    // Once the first signup is logged, every request has been read and the rest are queued on the hasher.
    const deadline = Date.now() + 20_000;
    while (!running.stdout().includes('"event":"signup"') && Date.now() < deadline) await Bun.sleep(2);
    expect(running.stdout()).toContain('"event":"signup"');
    running.proc.kill("SIGTERM");
    const statuses = await Promise.all(answers.map(async (a) => (await a).status));
    expect(statuses).toEqual(Array(8).fill(201));
    expect(await running.proc.exited).toBe(0);
    running = null;
    const db = new Database(join(d, "data", "demo.db"), { readonly: true });
    expect((db.query("SELECT count(*) AS n FROM users").get() as { n: number }).n).toBe(8);
    db.close();
  }, 40_000);
});
