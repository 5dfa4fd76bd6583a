/**
 * `--database` / `LATCHKEY_DATABASE_URL` through the real CLI: `check` plans against a real
 * PostgreSQL (plan ids, blocked destructive plans, --json), and the refusals that exit 2 before
 * anything listens: a malformed URL, another scheme, no LATCHKEY_SERVER_KEY (serve, keys rotate), keys
 * rotate on an unreachable database, backup/restore pointing to pg_dump. No message shows the password.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CheckReport } from "../../src/cli/check.ts";
import { loadProjects } from "../../src/config/load.ts";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { applyPostgresSchema } from "../../src/storage/postgres/schema.ts";
import { ROOT, runCli } from "../cli/run.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const CHEAP = "auth:\n  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }\n";
const SERVER_KEY = Buffer.alloc(32, 7).toString("base64");
const FAKE_URL = "postgres://latchkey:s3cretPassw0rd@127.0.0.1:1/app";

let dir = "";
let database: TestDatabase | null = null;
afterEach(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
  await database?.drop();
  database = null;
});

function projectFile(tables: string, extra = ""): string {
  dir = dir || mkdtempSync(join(tmpdir(), "latchkey-pgcli-"));
  const file = join(dir, "demo.yaml");
  writeFileSync(file, `id: demo-app\ntables:\n${tables}${extra}${CHEAP}`);
  return file;
}

const cli = (args: string[], env: Record<string, string> = {}) => runCli([BUN, MAIN, ...args], { env });

describe("--database refusals (exit 2, before listening)", () => {
  it("refuses a malformed URL and an unsupported scheme, naming what is expected", async () => {
    const file = projectFile("  notes:\n    columns:\n      body: text\n");
    const bad = await cli(["serve", "--config", file, "--database", "not a url"], { LATCHKEY_SERVER_KEY: SERVER_KEY });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--database is not a URL: expected postgres://user:password@host:5432/database");
    const mysql = await cli(["check", "--config", file, "--database", "mysql://u:pw@host/db"]);
    expect(mysql.code).toBe(2);
    expect(mysql.stderr).toContain('unsupported scheme "mysql"');
    const env = await cli(["serve", "--config", file], { LATCHKEY_DATABASE_URL: "ftp://host/x", LATCHKEY_SERVER_KEY: SERVER_KEY });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('unsupported scheme "ftp"');
    const pool = await cli(["check", "--config", file, "--database", `${FAKE_URL}?max=0`]);
    expect(pool.code).toBe(2);
    expect(pool.stderr).toContain("max (the pool size) must be a whole number from 1 to 1000");
    expect(pool.stderr).not.toContain("s3cretPassw0rd");
    const ssl = await cli(["check", "--config", file, "--database", `${FAKE_URL}?sslmode=sometimes`]);
    expect(ssl.code).toBe(2);
    expect(ssl.stderr).toContain("sslmode must be one of disable, prefer, require, verify-ca, verify-full");
  }, 30_000);

  it("serve and keys rotate with postgres:// and no LATCHKEY_SERVER_KEY exit 2 naming the variable; keys rotate on an unreachable database exits 1", async () => {
    const file = projectFile("  notes:\n    columns:\n      body: text\n");
    const noKey = await cli(["serve", "--config", file, "--port", "0", "--database", FAKE_URL]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("needs LATCHKEY_SERVER_KEY");
    expect(noKey.stdout).not.toContain("listening");
    const fromEnv = await cli(["serve", "--config", file, "--port", "0"], { LATCHKEY_DATABASE_URL: FAKE_URL });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain("needs LATCHKEY_SERVER_KEY");

    // keys rotate on PostgreSQL needs the replicas' server key too; with it, an unreachable
    // database is a runtime failure (exit 1) that names the URL without its password.
    const rotateNoKey = await cli(["keys", "rotate", "--project", "demo-app", "--admin", "--database", FAKE_URL]);
    expect(rotateNoKey.code).toBe(2);
    expect(rotateNoKey.stderr).toContain("keys rotate --database postgres://... needs LATCHKEY_SERVER_KEY");
    const rotate = await cli(["keys", "rotate", "--project", "demo-app", "--admin", "--database", FAKE_URL], { LATCHKEY_SERVER_KEY: SERVER_KEY });
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toContain("postgres://latchkey:***@127.0.0.1:1/app");
    expect(rotate.stdout).not.toContain("admin_key=");
    for (const r of [noKey, rotateNoKey, rotate]) expect(r.stderr).not.toContain("s3cretPassw0rd");
  }, 30_000);

  it("backup and restore with a postgres URL point to pg_dump / pg_restore", async () => {
    const backup = await cli(["backup", "--project", "demo-app", "--out", "/tmp/x.db", "--database", FAKE_URL]);
    expect(backup.code).toBe(2);
    expect(backup.stderr).toContain("back up the database with pg_dump");
    const fromEnv = await cli(["backup", "--project", "demo-app", "--out", "/tmp/x.db"], { LATCHKEY_DATABASE_URL: FAKE_URL });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain("pg_dump");
    const restore = await cli(["restore", "--project", "demo-app", "--from", "/tmp/x.db", "--database", FAKE_URL]);
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain("pg_restore");
  }, 30_000);

  it("schema takes --database (and still prints the project-file JSON Schema)", async () => {
    const r = await cli(["schema", "--database", FAKE_URL]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty("$schema");
    expect((await cli(["schema", "--database", "nope"])).code).toBe(2);
  }, 30_000);
});

describe.skipIf(PG_SKIP_REASON !== null)("check --database against a real PostgreSQL", () => {
  it("plans a new project, says up to date once applied, and blocks a destructive change with its plan id", async () => {
    database = await createTestDatabase();
    const v1 = projectFile("  notes:\n    columns:\n      body: text\n      title: string\n");
    const first = await cli(["check", "--config", v1, "--database", database.url]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("+ create table notes (5 columns)");

    // Apply it as a booting server will, from the same file.
    const loaded = loadProjects([v1], { env: {}, registry: BUILTIN_PLUGINS });
    const config = loaded.projects[0];
    if (!config) throw new Error(JSON.stringify(loaded.issues));
    await applyPostgresSchema(database.sql, config.id, config.tables, { confirmDestructive: false, nowIso: new Date().toISOString() });
    await database.sql.unsafe(`INSERT INTO latchkey_demo_app.notes (id, created_at, updated_at, body) VALUES ('n1', 'x', 'x', 'hello')`);

    const same = await cli(["check", "--config", v1], { LATCHKEY_DATABASE_URL: database.url });
    expect(same.code).toBe(0);
    expect(same.stdout).toContain("schema is up to date");

    const v2 = projectFile("  notes:\n    columns:\n      title: string\n");
    const blocked = await cli(["check", "--json", "--config", v2, "--database", database.url]);
    expect(blocked.code).toBe(2);
    const report = JSON.parse(blocked.stdout) as CheckReport;
    const plan = report.projects[0]?.plan;
    expect(plan?.changes.map((c) => c.description)).toEqual(["drop column notes.body (1 row has a value)"]);
    expect(plan?.blocked).toBe(true);
    expect(plan?.plan_id).toMatch(/^[0-9a-f]{12}$/);

    const confirmed = projectFile("  notes:\n    columns:\n      title: string\n", `confirm_destructive: ${plan?.plan_id}\n`);
    const ok = await cli(["check", "--config", confirmed, "--database", database.url]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`plan id: ${plan?.plan_id}`);
  }, 60_000);

  it("reports an unreachable database as an error for the project, without the password", async () => {
    const file = projectFile("  notes:\n    columns:\n      body: text\n");
    const r = await cli(["check", "--config", file, "--database", FAKE_URL]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("project demo-app: PostgreSQL postgres://latchkey:***@127.0.0.1:1/app");
    expect(r.stderr).not.toContain("s3cretPassw0rd");
  }, 30_000);
});
