/**
 * Lazy projects (projects/pool.ts): databases open on first request and close when idle or when
 * more than --max-open-projects are open. A project the limit closed must answer its next request
 * exactly as if it had stayed open: sessions, refresh tokens, lockout counters and pending mail
 * all live in its database.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, expectError, PASSWORD, signUp } from "../helpers/auth.ts";
import { reservePort, startSmtpSink, type SmtpSink } from "../mail/smtp-sink.ts";
import { ROOT, startServe, type Running } from "../cli/run.ts";
import { call, logLines, opsProjectYaml, waitFor } from "../ops/helpers.ts";
import { FDS_PER_OPEN_PROJECT } from "../../src/host/fd-limit.ts";

let inst: TestInstance | undefined;
let sink: SmtpSink | undefined;
let running: Running | undefined;
afterEach(async () => {
  await inst?.close();
  await sink?.close();
  if (running) {
    running.proc.kill("SIGTERM");
    await running.proc.exited;
  }
  inst = undefined;
  sink = undefined;
  running = undefined;
});

const LOCKOUT = { rate_limits: { login_failures_per_account: { max: 3, window: "15m" }, login_per_ip: "off", signup_per_ip: "off" } };

/** Touches `other` so that, with one open project allowed, `id` is closed; checks that it was. */
async function closeByLru(t: TestInstance, id: string, other: string): Promise<void> {
  const closesBefore = t.booted.projects.stats().closes;
  const r = await t.req("POST", `/p/${other}/auth/login`, { body: { email: `nobody${closesBefore}@example.com`, password: "not the password" } });
  expect(r.status).toBe(401);
  expect(t.booted.projects.openRuntime(id)).toBeNull();
  expect(t.booted.projects.openRuntime(other)).not.toBeNull();
  expect(t.booted.projects.stats().closes).toBeGreaterThan(closesBefore);
}

describe("a project closed by the open-projects limit", () => {
  it("logs in, refreshes, answers /auth/me and keeps its lockout counter across closings", async () => {
    inst = await createTestInstance([authSpec({ id: "aa", auth: LOCKOUT }), authSpec({ id: "bb", auth: LOCKOUT })], { boot: { maxOpenProjects: 1 } });
    const t = inst;
    // Boot checked both projects and left them closed.
    expect(t.booted.projects.stats().open).toBe(0);
    const alice = await signUp(t, "alice@example.com", { project: "aa" });
    await closeByLru(t, "aa", "bb");

    // Login and refresh on the reopened project.
    const login = await t.req("POST", "/p/aa/auth/login", { body: { email: "alice@example.com", password: PASSWORD } });
    expect(login.status).toBe(200);
    await closeByLru(t, "aa", "bb");
    const refreshed = await t.req("POST", "/p/aa/auth/refresh", { body: { refresh_token: alice.refresh_token } });
    expect(refreshed.status).toBe(200);
    await closeByLru(t, "aa", "bb");
    const me = await t.req("GET", "/p/aa/auth/me", { token: refreshed.body.data.token });
    expect(me.status).toBe(200);
    expect(me.body.data.user.email).toBe("alice@example.com");
    // The rotated refresh token presented again after the grace is reuse, even after a closing,
    // and ends the session: the successor is refused too.
    t.clock.advance(60_000);
    await closeByLru(t, "aa", "bb");
    const reused = await t.req("POST", "/p/aa/auth/refresh", { body: { refresh_token: alice.refresh_token } });
    expect(reused.status).toBe(401);
    await closeByLru(t, "aa", "bb");
    expect((await t.req("POST", "/p/aa/auth/refresh", { body: { refresh_token: refreshed.body.data.refresh_token } })).status).toBe(401);

    // Lockout: 3 failures allowed per 15 minutes, spread over closings of the project.
    for (let i = 0; i < 2; i++) {
      const wrong = await t.req("POST", "/p/aa/auth/login", { body: { email: "alice@example.com", password: `wrong guess ${i}` } });
      expect(wrong.status).toBe(401);
    }
    await closeByLru(t, "aa", "bb");
    const third = await t.req("POST", "/p/aa/auth/login", { body: { email: "alice@example.com", password: "wrong guess 2" } });
    expect(third.status).toBe(401);
    await closeByLru(t, "aa", "bb");
    expectError(await t.req("POST", "/p/aa/auth/login", { body: { email: "alice@example.com", password: PASSWORD } }), 429, "RATE_LIMITED");
    t.clock.advance(15 * 60_000 + 1_000);
    await closeByLru(t, "aa", "bb");
    expect((await t.req("POST", "/p/aa/auth/login", { body: { email: "alice@example.com", password: PASSWORD } })).status).toBe(200);
  });

  it("is opened again to deliver its pending mail to a real SMTP server", async () => {
    const port = await reservePort(); // nothing listens yet: the first attempt fails
    const mailer = {
      ...authSpec({ id: "mailer", verifyEmail: true, auth: LOCKOUT }),
      mail: { provider: "smtp", from: "Demo <no-reply@myapp.com>", options: { url: `smtp://127.0.0.1:${port}`, timeout_ms: 2000 } },
    };
    inst = await createTestInstance([mailer, authSpec({ id: "other", auth: LOCKOUT })], {
      boot: { maxOpenProjects: 1, startMail: true, senderOptions: { schedule: { baseDelayMs: 50, maxDelayMs: 100, maxAttempts: 100 }, maxSleepMs: 100 } },
    });
    const t = inst;
    const dbPath = join(t.dataDir, "mailer.db");
    const outbox = (): { status: string; attempts: number }[] => {
      // A separate read-only connection: looking must not open the project through the server.
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.query("SELECT status, attempts FROM _outbox").all() as { status: string; attempts: number }[];
      } finally {
        db.close();
      }
    };
    await signUp(t, "carol@example.org", { project: "mailer" });
    await waitFor("a failed first delivery attempt", () => outbox().some((m) => m.status === "pending" && m.attempts >= 1));
    await closeByLru(t, "mailer", "other");

    sink = await startSmtpSink(port);
    t.clock.advance(1_000); // past the retry time (the outbox runs on the server's clock)
    const [mail] = await sink.waitFor(1, 15_000);
    expect(mail.to).toEqual(["carol@example.org"]);
    expect(mail.subject).toContain("Confirm your email");
    await waitFor("the message marked sent", () => outbox().every((m) => m.status === "sent"));
    // No request reached "mailer" after its closing: the pool's own timer opened it.
    expect(t.logs.filter((l) => l.includes('"project":"mailer"') && l.includes("mail sent")).length).toBe(1);
  }, 30_000);
});

describe("housekeeping of projects that stay closed", () => {
  it("opens a project closed for a day, deletes its expired tokens, ended counters and old audit rows, and closes it again", async () => {
    inst = await createTestInstance(
      [{ ...authSpec({ id: "aa", auth: LOCKOUT }), audit: { retention: "30d" } }, authSpec({ id: "bb", auth: LOCKOUT })],
      { boot: { maxOpenProjects: 1 } },
    );
    const t = inst;
    const alice = await signUp(t, "alice@example.com", { project: "aa" });
    const db = t.booted.projects.get("aa")!.db;
    const now = t.clock.now;
    const DAY = 86_400_000;
    db.transaction(() => {
      db.query("INSERT INTO _sessions(id, user_id, created_at, last_used_at) VALUES ('old-session', ?1, ?2, ?2)").run(alice.user.id, now - 60 * DAY);
      db.query("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES ('old-token', 'old-session', ?1, ?2)").run(now - 60 * DAY, now - 30 * DAY);
      db.query("INSERT INTO _rate_limits(key, window_start, count) VALUES ('login_failures_per_account:gone@example.com', ?1, 2)").run(now - 16 * 60_000);
      db.query("INSERT INTO _audit(at, type, details) VALUES (?1, 'login_failed', '{}')").run(now - 40 * DAY);
    })();
    const rows = (database: Database): Record<string, number> =>
      Object.fromEntries(
        ["_sessions", "_refresh_tokens", "_rate_limits", "_audit"].map((table) => [table, (database.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n]),
      );
    const before = rows(db);
    await closeByLru(t, "aa", "bb");
    // "bb" goes idle too: nothing is open, and nothing is asked of "aa" from here on.
    t.booted.projects.sweep();
    await waitFor("both projects closed", () => t.booted.projects.stats().open <= 1 && t.booted.projects.stats().closing === 0);
    const readRows = (): Record<string, number> => {
      const ro = new Database(join(t.dataDir, "aa.db"), { readonly: true });
      try {
        return rows(ro);
      } finally {
        ro.close();
      }
    };

    // Less than a day after boot: not visited.
    const opensBefore = t.booted.projects.stats().opens;
    t.clock.advance(23 * 3_600_000);
    await t.booted.projects.housekeepClosed();
    expect(t.booted.projects.stats().opens).toBe(opensBefore);
    expect(readRows()).toEqual(before);

    // A day after: opened, cleaned, closed again.
    t.clock.advance(2 * 3_600_000);
    await t.booted.projects.housekeepClosed();
    expect(t.booted.projects.openRuntime("aa")).toBeNull();
    await waitFor("the cleaned project closed", () => t.booted.projects.stats().closing === 0);
    expect(readRows()).toEqual({ _sessions: before._sessions - 1, _refresh_tokens: before._refresh_tokens - 1, _rate_limits: before._rate_limits - 1, _audit: before._audit - 1 });
    // Alice's live session is intact.
    expect((await t.req("POST", "/p/aa/auth/refresh", { body: { refresh_token: alice.refresh_token } })).status).toBe(200);

    // The next pass within the day leaves it alone (no open).
    await closeByLru(t, "aa", "bb");
    const opensAfter = t.booted.projects.stats().opens;
    t.clock.advance(3_600_000);
    await t.booted.projects.housekeepClosed();
    expect(t.booted.projects.stats().opens).toBe(opensAfter);
  });
});

describe("serve --max-open-projects 2 with 5 projects", () => {
  it("answers a mixed concurrent load without an error, closing projects past the limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "latchkey-lru-"));
    const projects = join(dir, "projects");
    const data = join(dir, "data");
    mkdirSync(projects);
    const ids = ["p1", "p2", "p3", "p4", "p5"];
    for (const id of ids) writeFileSync(join(projects, `${id}.yaml`), opsProjectYaml(id, {}));
    try {
      running = await startServe(
        [process.execPath, join(ROOT, "src/main.ts"), "serve", "--config", projects, "--data", data, "--port", "0", "--max-open-projects", "2", "--log-level", "debug"],
        { timeoutMs: 60_000 },
      );
      const base = running.url;
      for (let i = 0; (await fetch(`${base}/readyz`)).status !== 200; i++) {
        if (i > 300) throw new Error("never ready");
        await Bun.sleep(100);
      }

      const failures: string[] = [];
      const expectStatus = (what: string, got: number | null, want: number, body: unknown): void => {
        if (got !== want) failures.push(`${what}: ${got} ${JSON.stringify(body)}`);
      };
      // Each worker has its own users, so no two workers ever rotate the same refresh token.
      const worker = async (w: number): Promise<void> => {
        const mine = new Map<string, { email: string; token: string; refresh: string }[]>();
        let n = 0;
        for (let i = 0; i < 30; i++) {
          const id = ids[(w * 7 + i * 3) % ids.length];
          const known = mine.get(id) ?? [];
          mine.set(id, known);
          const s = known[(i + w) % Math.max(1, known.length)];
          switch (s === undefined ? 0 : (w + i) % 5) {
            case 0: {
              const email = `w${w}u${n++}@${id}.example`;
              const r = await call(base, "POST", `/p/${id}/auth/signup`, { body: { email, password: PASSWORD } });
              expectStatus(`signup ${id}`, r.status, 201, r.body);
              if (r.status === 201) known.push({ email, token: r.body.data.token, refresh: r.body.data.refresh_token });
              break;
            }
            case 1: {
              const r = await call(base, "POST", `/p/${id}/auth/login`, { body: { email: s.email, password: PASSWORD } });
              expectStatus(`login ${id}`, r.status, 200, r.body);
              break;
            }
            case 2: {
              const r = await call(base, "GET", `/p/${id}/auth/me`, { token: s.token });
              expectStatus(`me ${id}`, r.status, 200, r.body);
              break;
            }
            case 3: {
              const r = await call(base, "POST", `/p/${id}/auth/login`, { body: { email: s.email, password: "a wrong password" } });
              expectStatus(`wrong login ${id}`, r.status, 401, r.body);
              break;
            }
            case 4: {
              const r = await call(base, "POST", `/p/${id}/auth/refresh`, { body: { refresh_token: s.refresh } });
              expectStatus(`refresh ${id}`, r.status, 200, r.body);
              if (r.status === 200) {
                s.refresh = r.body.data.refresh_token;
                s.token = r.body.data.token;
              }
              break;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      expect(failures).toEqual([]);

      const closedByLimit = logLines(running.stdout()).filter((l) => l.msg === "project database closed" && l.reason === "open-projects limit");
      expect(closedByLimit.length).toBeGreaterThan(0);
      // Once the requests are over, at most 2 project databases (and their WAL and shared-memory
      // files) are still open in the server: a closed connection leaves no descriptor behind.
      const pid = running.proc.pid;
      const openFiles = (): string[] =>
        readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
          try {
            return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
          } catch {
            return [];
          }
        });
      const projectFiles = (suffix: string): string[] => openFiles().filter((f) => f.startsWith(data) && f.endsWith(suffix));
      try {
        await waitFor("at most 2 open project databases", () => new Set(projectFiles(".db")).size <= 2, 10_000);
      } catch (e) {
        throw new Error(`${(e as Error).message}: ${openFiles().join(", ")}\n${running.stdout().split("\n").slice(-15).join("\n")}`);
      }
      // A project reopened while its closing waited for older requests reuses that connection: a
      // second serving connection to the same file would leave its descriptor open after closing.
      // Exactly FDS_PER_OPEN_PROJECT descriptors per open project: its database twice (the serving
      // connection and the checkpoint thread's, which lives as long as the project is open), its
      // WAL twice and its shared memory once; a closed project holds none.
      const perProject = (): Map<string, string> => {
        const m = new Map<string, { db: number; wal: number; shm: number }>();
        for (const f of openFiles().filter((f) => f.startsWith(data))) {
          const kind = f.endsWith(".db") ? "db" : f.endsWith(".db-wal") ? "wal" : f.endsWith(".db-shm") ? "shm" : null;
          if (kind === null) continue;
          const base = f.replace(/-(wal|shm)$/, "");
          const c = m.get(base) ?? { db: 0, wal: 0, shm: 0 };
          c[kind]++;
          m.set(base, c);
        }
        return new Map([...m].map(([f, c]) => [f, `db ${c.db}, wal ${c.wal}, shm ${c.shm}`]));
      };
      const exact = (): boolean => [...perProject().values()].every((c) => c === "db 2, wal 2, shm 1");
      await waitFor("the checkpoint thread's connections settled", exact, 10_000).catch(() => undefined);
      const settled = perProject();
      expect(settled.size).toBeGreaterThan(0);
      expect(settled.size).toBeLessThanOrEqual(2);
      for (const [f, c] of settled) expect({ f, c }).toEqual({ f, c: "db 2, wal 2, shm 1" });
      expect(FDS_PER_OPEN_PROJECT).toBe(2 + 2 + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("the boot plan cache", () => {
  it("skips only untouched databases: a replaced file is planned again and refused at boot", async () => {
    inst = await createTestInstance([authSpec({ id: "demo" })]);
    const t = inst;
    await signUp(t, "dora@example.com");
    await t.restart();
    expect(existsSync(join(t.dataDir, ".latchkey-plans.json"))).toBe(true);
    expect(t.booted.failures).toEqual([]);
    expect((await t.req("POST", "/p/demo/auth/login", { body: { email: "dora@example.com", password: PASSWORD } })).status).toBe(200);
    await t.booted.close();

    // A foreign database in its place: a different file, so the remembered plan does not apply.
    const path = join(t.dataDir, "demo.db");
    rmSync(path);
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    const foreign = new Database(path);
    foreign.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)");
    foreign.close();
    await t.restart();
    expect(t.booted.failures.map((f) => f.id)).toEqual(["demo"]);
    expect(t.booted.failures[0].message).toMatch(/not a Latchkey database/);
    expect((await t.req("GET", "/readyz")).status).toBe(503);
  });

  it("plans again a project whose declared tables changed, and applies the change", async () => {
    inst = await createTestInstance([authSpec({ id: "demo" })]);
    const t = inst;
    await t.restart(); // the plan of "demo" is now remembered
    await t.restart([authSpec({ id: "demo", columns: { display_name: "string max_length 80", plan: "string" } })]);
    expect(t.booted.failures).toEqual([]);
    const s = await t.req("POST", "/p/demo/auth/signup", { body: { email: "eve@example.com", password: PASSWORD, plan: "pro" } });
    expect(s.status).toBe(201);
    expect(s.body.data.user.plan).toBe("pro");
  });
});
