/**
 * A real PostgreSQL for the tests. `.ci/run` starts a throwaway cluster and exports
 * LATCHKEY_TEST_DATABASE_URL (an admin URL). Without it:
 * - in CI (CI=true) the PostgreSQL tests fail: CI must never pass by skipping them;
 * - by hand, a throwaway cluster is started the same way (.ci/postgres.sh) when the PostgreSQL
 *   binaries exist, and stopped (and removed) once the test process has ended;
 * - otherwise they are skipped with a loud reason.
 * Each test gets a fresh database (CREATE DATABASE with a random name), dropped after.
 */
import { SQL } from "bun";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "../../.ci/postgres.sh");

function binariesExist(): boolean {
  if (Bun.which("pg_ctl") && Bun.which("initdb")) return true;
  try {
    return readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`));
  } catch {
    return false;
  }
}

function startOwnCluster(): string {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-pg-"));
  const started = Bun.spawnSync(["bash", SCRIPT, "start", dir], { stdout: "pipe", stderr: "pipe" });
  const stop = (): void => {
    Bun.spawnSync(["bash", SCRIPT, "stop", dir]);
    rmSync(dir, { recursive: true, force: true });
  };
  if (started.exitCode !== 0) {
    stop();
    throw new Error(`could not start a throwaway PostgreSQL: ${started.stderr.toString().trim()}`);
  }
  // `bun test` does not always run exit handlers, and a killed run runs none: a detached watcher
  // stops and removes the cluster once this process is gone, whatever way it ended.
  const watcher = spawn(
    "bash",
    ["-c", 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"; rm -rf "$3"', "watch", String(process.pid), SCRIPT, dir],
    { detached: true, stdio: "ignore" },
  );
  watcher.unref();
  return started.stdout.toString().trim();
}

function resolveAdminUrl(): { url: string | null; reason: string | null } {
  const given = process.env.LATCHKEY_TEST_DATABASE_URL;
  if (given) return { url: given, reason: null };
  if (process.env.CI === "true") {
    throw new Error("LATCHKEY_TEST_DATABASE_URL is not set: in CI the PostgreSQL tests must run against a real PostgreSQL (.ci/run starts one)");
  }
  if (!binariesExist()) {
    return { url: null, reason: "no PostgreSQL binaries (pg_ctl, initdb) on this machine and LATCHKEY_TEST_DATABASE_URL is unset" };
  }
  const url = startOwnCluster();
  process.env.LATCHKEY_TEST_DATABASE_URL = url; // spawned binaries and later files reuse it
  return { url, reason: null };
}

const resolved = resolveAdminUrl();
/** The admin URL of the test cluster, or null when the PostgreSQL tests are skipped. */
export const PG_ADMIN_URL = resolved.url;
/** Why the PostgreSQL tests are skipped (null when they run). */
export const PG_SKIP_REASON = resolved.reason;
if (PG_SKIP_REASON) {
  console.warn(`\n!!! SKIPPING the PostgreSQL tests: ${PG_SKIP_REASON} !!!\n`);
}

export interface TestDatabase {
  /** A URL to the fresh database (same user and password as the admin URL). */
  readonly url: string;
  /** A client on it, closed by drop(). */
  readonly sql: SQL;
  drop(): Promise<void>;
}

/** A fresh, empty database with a random name; `drop()` closes every client given and drops it. */
export async function createTestDatabase(query: Record<string, string> = {}): Promise<TestDatabase> {
  if (!PG_ADMIN_URL) throw new Error(`PostgreSQL tests are skipped: ${PG_SKIP_REASON}`);
  const name = `lk_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = new SQL(PG_ADMIN_URL, { max: 1 });
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  await admin.close();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const sql = new SQL(url.href);
  return {
    url: url.href,
    sql,
    async drop(): Promise<void> {
      await sql.close();
      const again = new SQL(PG_ADMIN_URL, { max: 1 });
      try {
        await again.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await again.close();
      }
    },
  };
}
