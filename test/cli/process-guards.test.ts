import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { runCli, startServe, type Running } from "./run.ts";
import { buildBinary, minimalProject } from "./build-binary.ts";

// Process-level guards of `serve`, through the compiled executable: the data-dir lock, file
// modes under a permissive umask, and the open-file limit.
let dir = "";
let bin = "";
const running: Running[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-guards-"));
  bin = await buildBinary(dir);
}, 120_000);

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.proc.exited;
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
/** A fresh work dir with `count` project files in `projects/`. */
function workDir(count = 1, mail?: string): string {
  const w = join(dir, `w${++seq}`);
  mkdirSync(join(w, "projects"), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(w, "projects", `p${i}.yaml`), minimalProject(`p${i}`, mail));
  return w;
}

async function serve(cwd: string, extra: string[] = [], prefix: string[] = []): Promise<Running> {
  const r = await startServe([...prefix, bin, "serve", "--config", "projects", "--data", "data", "--port", "0", ...extra], { cwd });
  running.push(r);
  return r;
}

describe("one server per data directory", () => {
  it("refuses a second server on the same data dir (exit 1, naming the holder's PID); after kill -9 a new one starts", async () => {
    const w = workDir();
    const first = await serve(w);
    const second = await runCli([bin, "serve", "--config", "projects", "--data", "data", "--port", "0"], { cwd: w });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("in use by another latchkey server");
    expect(second.stderr).toContain(`PID ${first.proc.pid}`);
    // The second one never opened a port or touched the first one's databases.
    expect(second.stdout).not.toContain("listening on");
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);

    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const third = await serve(w);
    expect((await fetch(`${third.url}/p/p0/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) })).status).toBe(201);
  }, 60_000);
});

describe("file modes", () => {
  it("creates the data dir 0700 and every database, -wal, -shm, lock and mail file 0600 under umask 000", async () => {
    const w = workDir(1, "mail: { provider: file, options: { dir: ../mail }, from: \"App <no-reply@example.com>\" }");
    const r = await serve(w, [], ["/bin/sh", "-c", 'umask 000; exec "$@"', "sh"]);
    const signup = await fetch(`${r.url}/p/p0/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
    expect(signup.status).toBe(201);
    const mailDir = join(w, "mail");
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(readdirSync(w).includes("mail") && readdirSync(mailDir).some((f) => f.endsWith(".json")))) await Bun.sleep(20);
    const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
    expect(mode(join(w, "data"))).toBe("700");
    const dataFiles = readdirSync(join(w, "data"));
    expect(dataFiles).toEqual(expect.arrayContaining(["p0.db", "p0.db-wal", "p0.db-shm", "server.key", "latchkey.lock", ".latchkey-plans.json"]));
    for (const f of dataFiles) expect(`${f} ${mode(join(w, "data", f))}`).toBe(`${f} 600`);
    const mails = readdirSync(mailDir).filter((f) => f.endsWith(".json"));
    expect(mails.length).toBe(1);
    for (const f of mails) expect(`${f} ${mode(join(mailDir, f))}`).toBe(`${f} 600`);
    expect(r.stdout()).not.toContain("accessible by other users");
  }, 60_000);

  it("warns at boot when an existing data dir is readable by others", async () => {
    const w = workDir();
    mkdirSync(join(w, "data"));
    chmodSync(join(w, "data"), 0o755);
    const r = await serve(w);
    const line = r.stdout().split("\n").find((l) => l.includes("accessible by other users"));
    expect(line).toBeDefined();
    expect(JSON.parse(line!).level).toBe("warn");
    expect(line).toContain("0755");
  }, 60_000);
});

describe("open-file limit", () => {
  const prlimit = Bun.which("prlimit");

  // Projects open on demand, so what must fit is the open-projects cap, not the project count: the
  // refusal needs a cap that cannot fit (here every project open at once).
  it.skipIf(prlimit === null)("refuses to boot with a clear message when the open projects cannot fit in the hard limit", async () => {
    const w = workDir(40);
    const r = await runCli([prlimit!, "--nofile=128:128", bin, "serve", "--config", "projects", "--data", "data", "--port", "0", "--max-open-projects", "40"], { cwd: w });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("40 project(s) need about 300 open files");
    expect(r.stderr).toContain("may open only 128");
    expect(r.stdout).not.toContain("listening on");
  }, 60_000);

  it.skipIf(prlimit === null)("names the cap when a --max-open-projects below the project count still cannot fit", async () => {
    const w = workDir(40);
    const r = await runCli([prlimit!, "--nofile=128:128", bin, "serve", "--config", "projects", "--data", "data", "--port", "0", "--max-open-projects", "20"], { cwd: w });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("20 open project(s) (--max-open-projects 20, of 40) need about 200 open files");
    expect(r.stdout).not.toContain("listening on");
  }, 60_000);

  it.skipIf(prlimit === null)("without --max-open-projects, sizes the cap from a low hard limit and serves every project", async () => {
    const w = workDir(40);
    const r = await serve(w, [], [prlimit!, "--nofile=128:128"]);
    for (const id of ["p0", "p20", "p39"]) {
      const s = await fetch(`${r.url}/p/${id}/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
      expect(s.status).toBe(201);
    }
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
  }, 60_000);

  it.skipIf(prlimit === null)("raises a low soft limit to the hard one and serves every project", async () => {
    const w = workDir(40);
    const r = await serve(w, [], [prlimit!, "--nofile=64:4096"]);
    const limits = await Bun.file(`/proc/${r.proc.pid}/limits`).text();
    expect(limits).toMatch(/Max open files\s+4096\s+4096/);
    for (const id of ["p0", "p20", "p39"]) {
      const s = await fetch(`${r.url}/p/${id}/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
      expect(s.status).toBe(201);
    }
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
  }, 60_000);
});

describe("a project whose database another process holds", () => {
  it("costs only its own requests: /healthz and another project answer at once, it answers 503 after its budget", async () => {
    const w = workDir(2);
    const r = await serve(w);
    const signup = (id: string, email: string): Promise<Response> =>
      fetch(`${r.url}/p/${id}/auth/signup`, { method: "POST", body: JSON.stringify({ email, password: "correct horse battery" }) });
    const before = await signup("p0", "reader@example.com");
    const { data } = (await before.json()) as { data: { token: string } };
    const other = new Database(join(w, "data", "p0.db"));
    other.exec("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE");
    try {
      // Reads are not blocked by a writer (WAL): /auth/me answers at once.
      const t = performance.now();
      expect((await fetch(`${r.url}/p/p0/auth/me`, { headers: { authorization: `Bearer ${data.token}` } })).status).toBe(200);
      expect(performance.now() - t).toBeLessThan(1_000);
      const started = performance.now();
      const locked = signup("p0", "a@example.com").then(async (res) => ({ res, ms: performance.now() - started }));
      await Bun.sleep(100); // the locked request is waiting now
      const t0 = performance.now();
      expect((await fetch(`${r.url}/healthz`)).status).toBe(200);
      const healthMs = performance.now() - t0;
      const t1 = performance.now();
      expect((await signup("p1", "b@example.com")).status).toBe(201);
      const otherProjectMs = performance.now() - t1;
      const { res, ms } = await locked;
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("SERVICE_UNAVAILABLE");
      expect(healthMs).toBeLessThan(1_000); // was ~5 s while the event loop sat in the busy wait
      expect(otherProjectMs).toBeLessThan(2_000);
      expect(ms).toBeGreaterThan(1_900); // waited for its budget (2 s), asynchronously
      expect(ms).toBeLessThan(4_000);
      const admin = await fetch(`${r.url}/p/p0/v1/rotate-jwt-secret`, { method: "POST", headers: { "x-admin-key": "sk_wrong" } });
      expect(admin.status).toBe(503);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect((await signup("p0", "a@example.com")).status).toBe(201);
  }, 60_000);

  it("a lock released within the budget costs only a short wait", async () => {
    const w = workDir(1);
    const r = await serve(w);
    const other = new Database(join(w, "data", "p0.db"));
    other.exec("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE");
    setTimeout(() => {
      other.exec("ROLLBACK");
      other.close();
    }, 300);
    const res = await fetch(`${r.url}/p/p0/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
    expect(res.status).toBe(201);
  }, 60_000);
});

describe("--port 0", () => {
  it("links and the token's iss name the port the server really listens on", async () => {
    const w = workDir(1, "mail: { provider: file, options: { dir: ../mail }, from: \"App <no-reply@example.com>\" }");
    const r = await serve(w);
    const port = new URL(r.url).port;
    expect(port).not.toBe("0");
    const signup = await fetch(`${r.url}/p/p0/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
    expect(signup.status).toBe(201);
    const { data } = (await signup.json()) as { data: { token: string } };
    const claims = JSON.parse(Buffer.from(data.token.split(".")[1], "base64url").toString()) as { iss: string };
    expect(claims.iss).toBe(`http://127.0.0.1:${port}/p/p0`);
    const mailDir = join(w, "mail");
    const deadline = Date.now() + 10_000;
    let mails: string[] = [];
    while (Date.now() < deadline && mails.length === 0) {
      mails = readdirSync(w).includes("mail") ? readdirSync(mailDir).filter((f) => f.endsWith(".json")) : [];
      await Bun.sleep(20);
    }
    const mail = JSON.parse(await Bun.file(join(mailDir, mails[0])).text()) as { text: string };
    const link = /http:\/\/\S+token=\S+/.exec(mail.text)?.[0] ?? "";
    expect(link.startsWith(`http://127.0.0.1:${port}/p/p0/auth/verify?token=`)).toBe(true);
    // The link works against this very server.
    expect((await fetch(link, { headers: { accept: "application/json" } })).status).toBe(200);
  }, 60_000);
});
