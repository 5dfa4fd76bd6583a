import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { startMailSenders } from "../../src/mail/start.ts";
import { startHousekeeping } from "../../src/projects/housekeeping.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";

const sqlite = sqliteOnly("makes the SQLite connection read-only (PRAGMA query_only) to fail the background loops");

// A database that refuses writes (disk full, read-only file system) while a background loop has
// work: the loop must back off exponentially and log once per step, never spin.
const PROJECT = {
  id: "demo",
  tables: { users: { auth_table: true, verify_email: true, columns: {} } },
  mail: { provider: "capture", from: "Demo <no-reply@example.com>" },
};

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

const linesWith = (t: TestInstance, msg: string): Record<string, unknown>[] =>
  t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith(msg));

sqlite.describe("background loops back off when the database fails", () => {
  it("the mail sender retries a due mail on a read-only database with exponential backoff, then delivers it", async () => {
    inst = await createTestInstance([PROJECT]);
    const p = inst.booted.projects.get("demo")!;
    const signup = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "ann@example.com", password: "correct horse battery" } });
    expect(signup.status).toBe(201);
    // The verification mail is due now, and from here every write fails (SQLITE_READONLY).
    p.db.exec("PRAGMA query_only = ON");
    startMailSenders([p], { errorBackoff: { baseMs: 50, maxMs: 200 } });
    await Bun.sleep(1_000);
    const failures = linesWith(inst, "mail sender ");
    // 0, 50, 100, 200, 400, 600, 800, 1000 ms: about 7 attempts in a second (a busy loop makes hundreds).
    expect(failures.length).toBeGreaterThanOrEqual(4);
    expect(failures.length).toBeLessThanOrEqual(9);
    expect(failures.slice(0, 4).map((l) => l.retry_in_ms)).toEqual([50, 100, 200, 200]);
    expect(String(failures[0].error)).toContain("readonly");
    expect(inst.mail.messages.length).toBe(0);

    p.db.exec("PRAGMA query_only = OFF");
    await inst.mail.waitFor(1, 2_000);
    expect(inst.mail.messages[0].to).toBe("ann@example.com");
  });

  it("housekeeping retries a failed run with backoff instead of waiting an hour", async () => {
    inst = await createTestInstance([PROJECT]);
    const p = inst.booted.projects.get("demo")!;
    // A session whose refresh token is long expired: housekeeping has something to delete.
    await inst.req("POST", "/p/demo/auth/signup", { body: { email: "ann@example.com", password: "correct horse battery" } });
    inst.clock.advance(400 * 86_400_000);
    p.db.exec("PRAGMA query_only = ON");
    startHousekeeping(p, { firstRunAfterMs: 0, errorBackoff: { baseMs: 50, maxMs: 200 } });
    await Bun.sleep(500);
    const failures = linesWith(inst, "housekeeping failed");
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.length).toBeLessThanOrEqual(6);
    expect(failures.slice(0, 3).map((l) => l.retry_in_ms)).toEqual([50, 100, 200]);
    p.db.exec("PRAGMA query_only = OFF");
    await Bun.sleep(400);
    expect((p.db.query("SELECT count(*) AS n FROM _sessions").get() as { n: number }).n).toBe(0);
    expect(linesWith(inst, "housekeeping").some((l) => l.msg === "housekeeping" && l.removed_sessions === 1)).toBe(true);
  });
});
