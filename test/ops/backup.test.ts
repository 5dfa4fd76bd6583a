/**
 * `latchkey backup` / `latchkey restore` (SPEC §14) with real processes: a backup taken while a
 * server takes signups, restored into a fresh data dir, holds every signup acknowledged before
 * the backup began.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli, startServe, type Running } from "../cli/run.ts";
import { call, opsProjectYaml, waitFor } from "./helpers.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const PASSWORD = "correct horse battery staple";

const servers: Running[] = [];
let dir = "";

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.proc.kill("SIGTERM");
    await s.proc.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

async function serve(projects: string, data: string): Promise<Running> {
  const r = await startServe([BUN, MAIN, "serve", "--config", projects, "--data", data, "--port", "0"]);
  servers.push(r);
  return r;
}

describe("latchkey backup and restore", () => {
  it("backs up a live database under signup load; the restore passes integrity_check and every signup acknowledged before the backup logs in", async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-backup-"));
    const projects = join(dir, "projects");
    const data = join(dir, "data");
    mkdirSync(projects);
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", { nick: "string" }));
    const live = await serve(projects, data);

    const acknowledged: { email: string; atMs: number }[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const email = `u-${w}-${i}@example.com`;
        const s = await call(live.url, "POST", "/p/alpha/auth/signup", { body: { email, password: PASSWORD, nick: `n${i}` } });
        if (s.status === 201) acknowledged.push({ email, atMs: Date.now() });
        else failures.push(s);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await waitFor("some signups before the backup", () => acknowledged.length >= 40, 30_000);

    const backupFile = join(dir, "alpha-backup.db");
    const startedAtMs = Date.now();
    // Everything pushed so far was acknowledged before the backup command started.
    const ackedBeforeBackup = acknowledged.length;
    const done = await runCli([BUN, MAIN, "backup", "--project", "alpha", "--out", backupFile, "--data", data]);
    // Signups continue after the backup too: the copy was taken from a database being written.
    await waitFor("signups after the backup", () => acknowledged.filter((a) => a.atMs > Date.now() - 5_000 && a.atMs >= startedAtMs).length >= 5, 30_000);
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(done.stderr).toBe("");
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`project alpha backed up to ${backupFile}`);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    // While the server runs, a restore is refused and the live database is untouched.
    const busy = await runCli([BUN, MAIN, "restore", "--project", "alpha", "--from", backupFile, "--data", data]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toContain("stop the server before restoring");

    const fresh = join(dir, "fresh");
    mkdirSync(fresh);
    // The server key travels with the backups (it unseals the project's JWT secret).
    copyFileSync(join(data, "server.key"), join(fresh, "server.key"));
    const restored = await runCli([BUN, MAIN, "restore", "--project", "alpha", "--from", backupFile, "--data", fresh]);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);

    const db = new Database(join(fresh, "alpha.db"), { readonly: true });
    let restoredCount = 0;
    try {
      expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      restoredCount = (db.query("SELECT count(*) AS n FROM users").get() as { n: number }).n;
    } finally {
      db.close();
    }
    const before = acknowledged.slice(0, ackedBeforeBackup);
    expect(before.length).toBeGreaterThanOrEqual(40);
    expect(restoredCount).toBeGreaterThanOrEqual(before.length);
    expect(restoredCount).toBeLessThan(acknowledged.length);

    const restoredServer = await serve(projects, fresh);
    const refused: string[] = [];
    for (const a of before) {
      const r = await call(restoredServer.url, "POST", "/p/alpha/auth/login", { body: { email: a.email, password: PASSWORD } });
      if (r.status !== 200) refused.push(`${a.email}: ${r.status}`);
    }
    expect(refused).toEqual([]);
  }, 120_000);

  it("refuses what it must not do: an existing output file, another project's backup, a newer schema, a file that is not a Latchkey database", async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-backup-"));
    const projects = join(dir, "projects");
    const data = join(dir, "data");
    mkdirSync(projects);
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", {}));
    writeFileSync(join(projects, "beta.yaml"), opsProjectYaml("beta", {}));
    const s = await serve(projects, data);
    expect((await call(s.url, "POST", "/p/alpha/auth/signup", { body: { email: "a@example.com", password: PASSWORD } })).status).toBe(201);
    s.proc.kill("SIGTERM");
    await s.proc.exited;
    servers.length = 0;

    const alphaBackup = join(dir, "alpha.bak.db");
    expect((await runCli([BUN, MAIN, "backup", "--project", "alpha", "--out", alphaBackup, "--data", data])).code).toBe(0);
    const again = await runCli([BUN, MAIN, "backup", "--project", "alpha", "--out", alphaBackup, "--data", data]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
    const missing = await runCli([BUN, MAIN, "backup", "--project", "nope", "--out", join(dir, "x.db"), "--data", data]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no database for project nope");

    const other = await runCli([BUN, MAIN, "restore", "--project", "beta", "--from", alphaBackup, "--data", data]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('belongs to project "alpha", not "beta"');

    const newer = join(dir, "newer.db");
    copyFileSync(alphaBackup, newer);
    const n = new Database(newer);
    n.run("UPDATE _latchkey_meta SET value = '999' WHERE key = 'schema_version'");
    n.close();
    const tooNew = await runCli([BUN, MAIN, "restore", "--project", "alpha", "--from", newer, "--data", data]);
    expect(tooNew.code).toBe(2);
    expect(tooNew.stderr).toContain("newer Latchkey");

    const foreign = join(dir, "foreign.db");
    const f = new Database(foreign);
    f.run("CREATE TABLE t (x)");
    f.close();
    const notOurs = await runCli([BUN, MAIN, "restore", "--project", "alpha", "--from", foreign, "--data", data]);
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr).toContain("not a Latchkey database");

    // A good restore over an existing database keeps the replaced file beside it.
    const ok = await runCli([BUN, MAIN, "restore", "--project", "alpha", "--from", alphaBackup, "--data", data]);
    expect(ok.code).toBe(0);
    const kept = readdirSync(data).filter((x) => x.startsWith("alpha.pre-restore-"));
    expect(kept.length).toBe(1);
    expect(ok.stdout).toContain(kept[0]);
    expect(existsSync(join(data, "alpha.db"))).toBe(true);
  }, 60_000);
});
