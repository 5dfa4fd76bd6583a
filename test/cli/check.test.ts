/**
 * `latchkey check` as a CI job uses it, through the real CLI: every problem of every file in one run
 * with line and column, `--json`, `--env-optional`, drift against a database the admin API changed,
 * plan ids in `confirm_destructive`, and `latchkey init`.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CheckReport } from "../../src/cli/check.ts";
import { ROOT, runCli, startServe, type Running } from "./run.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const CHEAP = "auth:\n  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }\n";
const ADMIN_KEY = "sk_driftDriftDriftDriftDriftDrift0001";

let dir = "";
let running: Running | null = null;
afterEach(() => {
  running?.proc.kill("SIGKILL");
  running = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});
const tmp = (): string => (dir = mkdtempSync(join(tmpdir(), "latchkey-check-")));

async function checkJson(args: string[], env: Record<string, string> = {}): Promise<{ code: number; report: CheckReport; stderr: string }> {
  const r = await runCli([BUN, MAIN, "check", "--json", ...args], { env });
  return { code: r.code, report: JSON.parse(r.stdout) as CheckReport, stderr: r.stderr };
}

/** Starts serve on the file, waits until it listens, stops it with SIGTERM; returns its output. */
async function serveOnce(file: string, data: string, env: Record<string, string> = {}): Promise<string> {
  running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", data, "--port", "0"], { env });
  running.proc.kill("SIGTERM");
  await running.proc.exited;
  const out = running.stdout() + running.stderr();
  running = null;
  return out;
}

function columns(dbPath: string, table: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.query(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  } finally {
    db.close();
  }
}

describe("latchkey check: every problem in one run", () => {
  it("--json lists every problem of every file with line and column, and still plans the valid project", async () => {
    const d = tmp();
    writeFileSync(join(d, "a.yaml"), "id: alpha\ncolour: red\ntables:\n  users:\n    auth_table: true\n    columns:\n      age: integer\n");
    writeFileSync(join(d, "b.yaml"), "id: beta\nauth:\n  access_token_ttl: 15 minutes\nmail:\n  templates:\n    welcome: { subject: Hi }\n");
    writeFileSync(join(d, "c.yaml"), `id: gamma\ntables:\n  notes:\n    columns:\n      body: text\n${CHEAP}`);
    const { code, report } = await checkJson(["--config", d]);
    expect(code).toBe(2);
    expect(report.ok).toBe(false);
    const where = report.errors.map((e) => [e.file.slice(d.length + 1), e.path, e.line, e.column]);
    expect(where).toEqual([
      ["a.yaml", "colour", 2, 1],
      ["a.yaml", "tables.users.columns.age", 7, 7],
      ["b.yaml", "auth.access_token_ttl", 3, 3],
      ["b.yaml", "mail.templates.welcome", 6, 5],
    ]);
    expect(report.errors[1].message).toContain('unknown type "integer"');
    expect(report.projects.map((p) => p.id)).toEqual(["gamma"]);
    expect(report.projects[0].plan?.changes.map((c) => c.kind)).toEqual(["create_table"]);
  }, 30_000);

  it("prints the same problems for people, each with its line and column", async () => {
    const d = tmp();
    writeFileSync(join(d, "a.yaml"), "id: alpha\ncolour: red\nauth:\n  hasher: { algorithm: md5 }\n");
    const r = await runCli([BUN, MAIN, "check", "--config", d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(d, "a.yaml")}: colour: unknown key "colour"`);
    expect(r.stderr).toContain("(line 2, column 1)");
    expect(r.stderr).toMatch(/auth\.hasher\.algorithm: unknown hasher algorithm "md5".*\(line 4, column 13\)/);
    expect(r.stderr).toContain("2 error(s).");
  }, 30_000);

  it("gives a YAML syntax error its position in --json", async () => {
    const d = tmp();
    writeFileSync(join(d, "a.yaml"), "id: alpha\ntables:\n\tusers: {}\n");
    const { code, report } = await checkJson(["--config", d]);
    expect(code).toBe(2);
    expect(report.errors).toHaveLength(1);
    expect([report.errors[0].line, report.errors[0].column]).toEqual([3, 1]);
  }, 30_000);
});

describe("latchkey check --env-optional", () => {
  const FILE = `id: demo\nkeys:\n  admin: \${DEMO_ADMIN_KEY}\nmail:\n  provider: smtp\n  options: { url: "\${SMTP_URL}" }\ntables:\n  users:\n    auth_table: true\n${CHEAP}`;

  it("without the flag, a missing secret is an error naming the variable", async () => {
    const d = tmp();
    writeFileSync(join(d, "demo.yaml"), FILE);
    const { code, report } = await checkJson(["--config", d]);
    expect(code).toBe(2);
    expect(report.errors.map((e) => e.path)).toEqual(["keys.admin", "mail.options.url"]);
    expect(report.errors[0].message).toContain("DEMO_ADMIN_KEY is not set");
  }, 30_000);

  it("with the flag, missing secrets are warnings and the structure and plan are still checked", async () => {
    const d = tmp();
    writeFileSync(join(d, "demo.yaml"), FILE);
    const { code, report } = await checkJson(["--config", d, "--env-optional"]);
    expect(report.errors).toEqual([]);
    expect(code).toBe(0);
    expect(report.warnings.map((w) => [w.path, w.line])).toEqual([["keys.admin", 3], ["mail.options.url", 6]]);
    expect(report.warnings[1].message).toContain("SMTP_URL is not set");
    expect(report.projects[0].plan?.changes.map((c) => c.table)).toEqual(["users"]);
  }, 30_000);

  it("with the flag, unset items of a list are left out and the rest is still checked", async () => {
    const d = tmp();
    writeFileSync(join(d, "demo.yaml"), `id: demo\nallowed_redirect_origins: ["\${A}", https://ok.example, "\${B}"]\ntables:\n  users:\n    auth_table: true\n${CHEAP}`);
    const { code, report } = await checkJson(["--config", d, "--env-optional"]);
    expect(report.errors).toEqual([]);
    expect(code).toBe(0);
    expect(report.warnings.map((w) => w.path)).toEqual(["allowed_redirect_origins.0", "allowed_redirect_origins.2"]);
    expect(report.projects.map((p) => p.id)).toEqual(["demo"]);
  }, 30_000);

  it("with the flag, a real mistake is still an error", async () => {
    const d = tmp();
    writeFileSync(join(d, "demo.yaml"), FILE.replace("auth_table: true", "auth_tabel: true"));
    const r = await runCli([BUN, MAIN, "check", "--config", d, "--env-optional"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tables.users.auth_tabel: unknown key "auth_tabel"');
    expect(r.stderr).toContain("config warning:");
    expect(r.stderr).toContain("DEMO_ADMIN_KEY is not set");
  }, 30_000);
});

describe("latchkey check --data: drift", () => {
  it("reports origins and keys changed through the admin API away from the file, never a key value", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    const data = join(d, "data");
    const env = { DEMO_ADMIN_KEY: ADMIN_KEY };
    writeFileSync(file, `id: demo\nkeys:\n  admin: \${DEMO_ADMIN_KEY}\nallowed_redirect_origins: [https://a.example]\ntables:\n  users:\n    auth_table: true\n${CHEAP}`);
    await serveOnce(file, data, env);
    let r = await checkJson(["--config", file, "--data", data], env);
    expect(r.code).toBe(0);
    expect(r.report.projects[0].drift).toEqual([]);
    expect((await runCli([BUN, MAIN, "check", "--config", file, "--data", data], { env })).stdout).toContain("no drift");

    running = await startServe([BUN, MAIN, "serve", "--config", file, "--data", data, "--port", "0"], { env });
    const put = await fetch(`${running.url}/p/demo/v1/redirect-origins`, {
      method: "PUT",
      headers: { "x-admin-key": ADMIN_KEY, "content-type": "application/json" },
      body: JSON.stringify({ allowed_redirect_origins: ["https://b.example"] }),
    });
    expect(put.status).toBe(200);
    const rotated = await fetch(`${running.url}/p/demo/v1/rotate-keys`, {
      method: "POST",
      headers: { "x-admin-key": ADMIN_KEY, "content-type": "application/json" },
      body: JSON.stringify({ admin: true }),
    });
    expect(rotated.status).toBe(200);
    const newKey = ((await rotated.json()) as { data: { admin_key: string } }).data.admin_key;
    running.proc.kill("SIGTERM");
    await running.proc.exited;
    running = null;

    r = await checkJson(["--config", file, "--data", data], env);
    expect(r.code).toBe(0);
    const drift = r.report.projects[0].drift ?? [];
    expect(drift.map((x) => [x.key, x.kind])).toEqual([["allowed_redirect_origins", "changed_by_api"], ["keys.admin", "changed_by_api"]]);
    expect(drift[0].message).toContain("https://b.example");
    expect(drift[0].message).toContain("https://a.example");
    const text = await runCli([BUN, MAIN, "check", "--config", file, "--data", data], { env });
    expect(text.stdout).toContain("drift: allowed_redirect_origins (changed_by_api)");
    for (const out of [JSON.stringify(r.report), text.stdout, text.stderr]) {
      expect(out).not.toContain(ADMIN_KEY);
      expect(out).not.toContain(newKey);
    }

    // A new declaration is not drift: it says the next start applies it.
    writeFileSync(file, readFileSync(file, "utf8").replace("https://a.example", "https://c.example"));
    r = await checkJson(["--config", file, "--data", data], env);
    expect((r.report.projects[0].drift ?? []).map((x) => [x.key, x.kind])).toEqual([
      ["allowed_redirect_origins", "applies_at_next_start"],
      ["keys.admin", "changed_by_api"],
    ]);
  }, 60_000);

  it("reports a table changed by hand as schema drift", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    const data = join(d, "data");
    writeFileSync(file, `id: demo\ntables:\n  notes:\n    columns:\n      body: text\n${CHEAP}`);
    await serveOnce(file, data);
    const db = new Database(join(data, "demo.db"));
    db.run("ALTER TABLE notes ADD COLUMN sneaky TEXT");
    db.close();
    const { code, report } = await checkJson(["--config", file, "--data", data]);
    expect(code).toBe(2);
    expect((report.projects[0].drift ?? []).map((x) => [x.key, x.kind])).toEqual([["tables.notes", "schema"]]);
  }, 60_000);
});

describe("confirm_destructive: <plan id>", () => {
  const v1 = `id: demo\ntables:\n  notes:\n    columns:\n      body: text\n      title: string\n      tag: string\n${CHEAP}`;
  const v2 = `id: demo\ntables:\n  notes:\n    columns:\n      body: text\n      tag: string\n${CHEAP}`;
  const v3 = `id: demo\ntables:\n  notes:\n    columns:\n      body: text\n${CHEAP}`;

  it("applies exactly the plan it names: a wrong or stale id is refused by check and by serve", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    const data = join(d, "data");
    const dbPath = join(data, "demo.db");
    writeFileSync(file, v1);
    await serveOnce(file, data);

    writeFileSync(file, v2);
    let r = await checkJson(["--config", file, "--data", data]);
    expect(r.code).toBe(2);
    const planId = r.report.projects[0].plan?.plan_id ?? "";
    expect(planId).toMatch(/^[0-9a-f]{12}$/);
    expect(r.report.errors[0].message).toContain(`confirm_destructive: ${planId}`);
    expect((await runCli([BUN, MAIN, "check", "--config", file, "--data", data])).stdout).toContain(`plan id: ${planId}`);

    writeFileSync(file, `${v2}confirm_destructive: 0123456789ab\n`);
    r = await checkJson(["--config", file, "--data", data]);
    expect(r.code).toBe(2);
    expect(r.report.errors[0].message).toContain(`names plan 0123456789ab, but the destructive plan is now ${planId}`);
    const refused = await serveOnce(file, data);
    expect(refused).toContain("did not load");
    expect(columns(dbPath, "notes")).toContain("title");

    writeFileSync(file, `${v2}confirm_destructive: ${planId}\n`);
    r = await checkJson(["--config", file, "--data", data]);
    expect(r.code).toBe(0);
    await serveOnce(file, data);
    expect(columns(dbPath, "notes")).not.toContain("title");

    // The old id stays in the file; a later destructive change has another id and is refused.
    writeFileSync(file, `${v3}confirm_destructive: ${planId}\n`);
    r = await checkJson(["--config", file, "--data", data]);
    expect(r.code).toBe(2);
    expect(r.report.projects[0].plan?.plan_id).not.toBe(planId);
    expect(await serveOnce(file, data)).toContain("did not load");
    expect(columns(dbPath, "notes")).toContain("tag");
  }, 60_000);

  it("the plan id does not move when rows are added between check and deploy", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    const data = join(d, "data");
    writeFileSync(file, v1);
    await serveOnce(file, data);
    writeFileSync(file, v2);
    const before = (await checkJson(["--config", file, "--data", data])).report.projects[0].plan?.plan_id;
    const db = new Database(join(data, "demo.db"));
    db.run("INSERT INTO notes (id, created_at, updated_at, body, title) VALUES ('n1', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'b', 't')");
    db.close();
    const after = await checkJson(["--config", file, "--data", data]);
    expect(after.report.projects[0].plan?.changes[0].description).toContain("1 row has a value");
    expect(after.report.projects[0].plan?.plan_id).toBe(before);
  }, 60_000);

  it("a `true` confirms one destructive plan with a warning, and never a later one", async () => {
    const d = tmp();
    const file = join(d, "demo.yaml");
    const data = join(d, "data");
    const dbPath = join(data, "demo.db");
    writeFileSync(file, v1);
    await serveOnce(file, data);

    writeFileSync(file, `${v2}confirm_destructive: true\n`);
    const warned = await checkJson(["--config", file, "--data", data]);
    expect(warned.code).toBe(0);
    expect(warned.report.warnings[0].message).toContain("confirm_destructive: true is deprecated");
    const out = await serveOnce(file, data);
    expect(out).toContain("confirm_destructive: true is deprecated");
    expect(columns(dbPath, "notes")).not.toContain("title");

    writeFileSync(file, `${v3}confirm_destructive: true\n`);
    const stale = await checkJson(["--config", file, "--data", data]);
    expect(stale.code).toBe(2);
    expect(stale.report.errors[0].message).toContain("confirm_destructive: true already confirmed plan");
    expect(await serveOnce(file, data)).toContain("did not load");
    expect(columns(dbPath, "notes")).toContain("tag");
  }, 60_000);
});

describe("latchkey init", () => {
  it("writes a starter project and its schema that check accepts, and never overwrites without --force", async () => {
    const d = tmp();
    const target = join(d, "proj");
    let r = await runCli([BUN, MAIN, "init", target]);
    expect(r.code).toBe(0);
    expect(existsSync(join(target, "project.yaml"))).toBe(true);
    expect(JSON.parse(readFileSync(join(target, "project.schema.json"), "utf8")).$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(readFileSync(join(target, "project.yaml"), "utf8")).toStartWith("# yaml-language-server: $schema=./project.schema.json\n");
    const checked = await checkJson(["--config", join(target, "project.yaml")]);
    expect(checked.report.errors).toEqual([]);
    expect(checked.code).toBe(0);

    writeFileSync(join(target, "project.yaml"), "id: mine\n");
    r = await runCli([BUN, MAIN, "init", target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("already exists");
    expect(readFileSync(join(target, "project.yaml"), "utf8")).toBe("id: mine\n");
    expect((await runCli([BUN, MAIN, "init", target, "--force"])).code).toBe(0);
    expect(readFileSync(join(target, "project.yaml"), "utf8")).toContain("id: my-app");
  }, 30_000);

  it("serve without a project file, or with an empty directory, says how to get one", async () => {
    const r = await runCli([BUN, MAIN, "serve"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("latchkey init");
    const empty = await runCli([BUN, MAIN, "serve", "--config", tmp(), "--port", "0"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("latchkey init");
  }, 30_000);
});
