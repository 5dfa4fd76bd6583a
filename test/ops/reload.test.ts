/**
 * Reload (SPEC §14) through the real server over HTTP: SIGHUP and `serve --watch` while clients
 * keep signing up, logging in and reading /auth/me.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServe, type Running } from "../cli/run.ts";
import { call, logLines, opsProjectYaml, waitFor, type Outcome } from "./helpers.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const PASSWORD = "correct horse battery staple";

let running: Running | null = null;
let dir = "";

afterEach(async () => {
  if (running) {
    running.proc.kill("SIGTERM");
    await running.proc.exited;
    running = null;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

function setup(): { projects: string; data: string } {
  dir = mkdtempSync(join(tmpdir(), "latchkey-reload-"));
  const projects = join(dir, "projects");
  const data = join(dir, "data");
  mkdirSync(projects);
  return { projects, data };
}

const reloadLines = (r: Running): Record<string, any>[] => logLines(r.stdout()).filter((l) => typeof l.msg === "string" && l.msg.startsWith("configuration reload"));

async function hangUp(r: Running): Promise<Record<string, any>> {
  const before = reloadLines(r).length;
  r.proc.kill("SIGHUP");
  return waitFor("the reload's log line", () => reloadLines(r)[before]);
}

/** Signs up a fresh user and returns the user object GET /auth/me shows. */
async function probeUser(base: string, project: string, email: string): Promise<Record<string, unknown>> {
  const s = await call(base, "POST", `/p/${project}/auth/signup`, { body: { email, password: PASSWORD } });
  expect(s.status).toBe(201);
  const me = await call(base, "GET", `/p/${project}/auth/me`, { token: s.body.data.token });
  expect(me.status).toBe(200);
  return me.body.data.user;
}

/** Each invalid set also carries a column that must not appear: proof that nothing of it was applied. */
const INVALID_SETS: { name: string; write(projects: string, columns: Record<string, string>, bogus: string): void; mentions: RegExp }[] = [
  {
    name: "YAML syntax error",
    write: (p, cols, bogus) => writeFileSync(join(p, "alpha.yaml"), opsProjectYaml("alpha", { ...cols, [bogus]: "string" }) + "oops: [unclosed\n"),
    mentions: /alpha\.yaml.*line \d+/,
  },
  {
    name: "unknown column type",
    write: (p, cols, bogus) => writeFileSync(join(p, "alpha.yaml"), opsProjectYaml("alpha", { ...cols, [bogus]: "string", broken: "colour" })),
    mentions: /alpha\.yaml: tables\.users\.columns\.broken/,
  },
  {
    name: "two files with the same project id",
    write: (p, cols, bogus) => {
      writeFileSync(join(p, "alpha.yaml"), opsProjectYaml("alpha", { ...cols, [bogus]: "string" }));
      writeFileSync(join(p, "zz-copy.yaml"), opsProjectYaml("alpha", cols));
    },
    mentions: /zz-copy\.yaml/,
  },
  {
    name: "unknown top-level key",
    write: (p, cols, bogus) => writeFileSync(join(p, "alpha.yaml"), opsProjectYaml("alpha", { ...cols, [bogus]: "string" }, { alowed_redirect_origins: ["https://x.example"] })),
    mentions: /alpha\.yaml: alowed_redirect_origins/,
  },
];

describe("reload under load", () => {
  it("answers every request while 20 reloads alternate valid and invalid files; valid changes show, invalid ones are logged and change nothing", async () => {
    const { projects, data } = setup();
    let columns: Record<string, string> = {};
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", columns));
    running = await startServe([BUN, MAIN, "serve", "--config", projects, "--data", data, "--port", "0", "--metrics"]);
    const r = running;
    const base = r.url;

    const outcomes: Outcome[] = [];
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const email = `load-${w}-${i}@example.com`;
        const s = await call(base, "POST", "/p/alpha/auth/signup", { body: { email, password: PASSWORD } });
        outcomes.push({ what: "signup", status: s.status, error: s.error });
        if (s.status !== 201) continue;
        const me = await call(base, "GET", "/p/alpha/auth/me", { token: s.body.data.token });
        outcomes.push({ what: "me", status: me.status, error: me.error });
        const login = await call(base, "POST", "/p/alpha/auth/login", { body: { email, password: PASSWORD } });
        outcomes.push({ what: "login", status: login.status, error: login.error });
        if (login.status !== 200) continue;
        const me2 = await call(base, "GET", "/p/alpha/auth/me", { token: login.body.data.token });
        outcomes.push({ what: "me", status: me2.status, error: me2.error });
      }
    };
    const workers = [0, 1, 2, 3].map(worker);

    for (let k = 1; k <= 20; k++) {
      const requestsBefore = outcomes.length;
      if (k % 2 === 1) {
        rmSync(join(projects, "zz-copy.yaml"), { force: true });
        columns = { ...columns, [`extra_${k}`]: "string" };
        writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", columns));
        const line = await hangUp(r);
        expect(line.msg).toBe("configuration reloaded");
        expect(line.changed).toEqual(["alpha"]);
        const user = await probeUser(base, "alpha", `probe-${k}@example.com`);
        for (const c of Object.keys(columns)) expect(user[c]).toBeNull();
      } else {
        const invalid = INVALID_SETS[(k / 2 - 1) % INVALID_SETS.length];
        const bogus = `bogus_${k}`;
        invalid.write(projects, columns, bogus);
        const line = await hangUp(r);
        expect(line.level).toBe("error");
        expect(line.msg).toBe("configuration reload failed; the previous configuration keeps serving");
        expect(line.errors.join("\n")).toMatch(invalid.mentions);
        const user = await probeUser(base, "alpha", `probe-${k}@example.com`);
        expect(user).not.toHaveProperty(bogus);
        for (const c of Object.keys(columns)) expect(user[c]).toBeNull();
      }
      const metrics = await call(base, "GET", "/metrics");
      expect(metrics.body).toContain(`latchkey_config_last_reload_success ${k % 2 === 1 ? 1 : 0}\n`);
      // Keep the load running across each reload: at least a few requests between two of them.
      await waitFor("requests between reloads", () => outcomes.length >= requestsBefore + 8);
    }
    stop = true;
    await Promise.all(workers);

    const failed = outcomes.filter((o) => o.status === null || o.status >= 300);
    expect(failed).toEqual([]);
    expect(outcomes.filter((o) => o.what === "signup").length).toBeGreaterThan(40);
    expect(outcomes.filter((o) => o.what === "login").length).toBeGreaterThan(40);
    const metrics = await call(base, "GET", "/metrics");
    expect(metrics.body).toContain('latchkey_config_reloads_total{result="ok"} 10\n');
    expect(metrics.body).toContain('latchkey_config_reloads_total{result="failed"} 10\n');
    expect(r.proc.exitCode).toBeNull();
  }, 120_000);

  it("loads a new project, answers 404 for a removed one (keeping its database), and refuses a destructive change unless confirmed", async () => {
    const { projects, data } = setup();
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", { bio: "text" }));
    running = await startServe([BUN, MAIN, "serve", "--config", projects, "--data", data, "--port", "0"]);
    const r = running;
    const base = r.url;
    expect((await call(base, "POST", "/p/beta/auth/signup", { body: { email: "b@example.com", password: PASSWORD } })).body.error.code).toBe("PROJECT_NOT_FOUND");

    writeFileSync(join(projects, "beta.yaml"), opsProjectYaml("beta", {}));
    let line = await hangUp(r);
    expect(line.added).toEqual(["beta"]);
    expect(line.unchanged).toBe(1);
    const betaUser = await probeUser(base, "beta", "b@example.com");
    expect(betaUser.email).toBe("b@example.com");
    // The keys generated for the new project are printed once, as at boot.
    expect(r.stdout()).toMatch(/project beta: admin key sk_\S+ public key pk_\S+ \(shown once\)/);

    rmSync(join(projects, "beta.yaml"));
    line = await hangUp(r);
    expect(line.removed).toEqual(["beta"]);
    const gone = await call(base, "POST", "/p/beta/auth/login", { body: { email: "b@example.com", password: PASSWORD } });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("PROJECT_NOT_FOUND");
    expect(existsSync(join(data, "beta.db"))).toBe(true);
    // Its connection closes once the requests begun before the removal have ended (none here).
    await waitFor("the removed project's database to close", () =>
      logLines(r.stdout()).some((l) => l.project === "beta" && l.msg === "database of a removed project closed (the file is kept)"),
    );

    // Dropping `bio` is destructive: without confirmation alpha keeps its previous configuration.
    const alice = await probeUser(base, "alpha", "alice@example.com");
    expect(alice.bio).toBeNull();
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", { age: "int" }));
    line = await hangUp(r);
    expect(line.level).toBe("warn");
    expect(line.kept_previous.map((k: { project: string }) => k.project)).toEqual(["alpha"]);
    expect(line.kept_previous[0].reason).toMatch(/bio/);
    const still = await probeUser(base, "alpha", "still@example.com");
    expect(still).toHaveProperty("bio");
    expect(still).not.toHaveProperty("age");
    expect(readdirSync(data).filter((f) => f.includes(".before-"))).toEqual([]);

    // Confirmed: applied, after a backup of the database as it was.
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", { age: "int" }, { confirm_destructive: true }));
    line = await hangUp(r);
    expect(line.changed).toEqual(["alpha"]);
    const after = await probeUser(base, "alpha", "after@example.com");
    expect(after).toHaveProperty("age");
    expect(after).not.toHaveProperty("bio");
    const backups = readdirSync(data).filter((f) => /^alpha\.before-[0-9a-f]{12}\.db$/.test(f));
    expect(backups.length).toBe(1);
    const { Database } = await import("bun:sqlite");
    const copy = new Database(join(data, backups[0]), { readonly: true });
    try {
      const cols = (copy.query("PRAGMA table_info(users)").all() as { name: string }[]).map((c) => c.name);
      expect(cols).toContain("bio");
      const emails = (copy.query("SELECT email FROM users").all() as { email: string }[]).map((u) => u.email);
      expect(emails).toContain("alice@example.com");
      expect(emails).toContain("still@example.com");
    } finally {
      copy.close();
    }
    // Users made before the destructive change still log in.
    expect((await call(base, "POST", "/p/alpha/auth/login", { body: { email: "alice@example.com", password: PASSWORD } })).status).toBe(200);
  }, 60_000);

  it("with --watch, serves an edited project file within 2 s, without a signal", async () => {
    const { projects, data } = setup();
    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", {}));
    running = await startServe([BUN, MAIN, "serve", "--config", projects, "--data", data, "--port", "0", "--watch"]);
    const base = running.url;
    const s = await call(base, "POST", "/p/alpha/auth/signup", { body: { email: "w@example.com", password: PASSWORD } });
    const token = s.body.data.token as string;
    expect((await call(base, "GET", "/p/alpha/auth/me", { token })).body.data.user).not.toHaveProperty("watched");

    writeFileSync(join(projects, "alpha.yaml"), opsProjectYaml("alpha", { watched: "bool" }));
    const editedAt = Date.now();
    let seenAt = 0;
    while (Date.now() - editedAt < 2_000) {
      const me = await call(base, "GET", "/p/alpha/auth/me", { token });
      if (me.status === 200 && "watched" in me.body.data.user) {
        seenAt = Date.now();
        break;
      }
      await Bun.sleep(25);
    }
    expect(seenAt).toBeGreaterThan(0);
    expect(seenAt - editedAt).toBeLessThan(2_000);
  }, 30_000);
});
