import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, startServe, type Running } from "./run.ts";
import { buildBinary, minimalProject } from "./build-binary.ts";

// Boot-time storage failures through the compiled executable: the real cause is named (never
// "corrupt"), a transient failure is retried until the storage is back, a read-only database
// never reports ready, and the server key and empty database files are guarded.
// The read-only and full-disk cases use a small tmpfs (needs root, as CI runs); elsewhere they skip.
let dir = "";
let bin = "";
// Decided before the tests are declared, so that without mount rights they are reported as skipped.
const canMount = probeMount();
const mounts: string[] = [];
const running: Running[] = [];

function sh(cmd: string[]): number {
  return Bun.spawnSync(cmd, { stdout: "ignore", stderr: "ignore" }).exitCode;
}

function probeMount(): boolean {
  if (process.platform !== "linux") return false;
  const probe = mkdtempSync(join(tmpdir(), "latchkey-mount-probe-"));
  const ok = sh(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]) === 0;
  if (ok) sh(["umount", probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-bootfs-"));
  bin = await buildBinary(dir);
}, 120_000);

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.proc.exited;
  }
});

afterAll(() => {
  for (const m of mounts) sh(["umount", "-l", m]);
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function workDir(ids: string[] = ["p0"]): string {
  const w = join(dir, `w${++seq}`);
  mkdirSync(join(w, "projects"), { recursive: true });
  for (const id of ids) writeFileSync(join(w, "projects", `${id}.yaml`), minimalProject(id));
  return w;
}

/** A tmpfs of `size` at `w/mnt`, the data dir inside it. */
function mountTmpfs(w: string, size: string): string {
  const m = join(w, "mnt");
  mkdirSync(m);
  if (sh(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", m]) !== 0) throw new Error("mount failed");
  mounts.push(m);
  return m;
}

async function serve(cwd: string, data: string, env: Record<string, string> = {}): Promise<Running> {
  const r = await startServe([bin, "serve", "--config", "projects", "--data", data, "--port", "0"], { cwd, env });
  running.push(r);
  return r;
}

const signup = (r: Running, id = "p0", email = "a@example.com"): Promise<Response> =>
  fetch(`${r.url}/p/${id}/auth/signup`, { method: "POST", body: JSON.stringify({ email, password: "correct horse battery" }) });

async function waitReady(r: Running, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await fetch(`${r.url}/readyz`)).status === 200) return true;
    await Bun.sleep(100);
  }
  return false;
}

describe("storage failures at boot name their cause and are retried", () => {
  for (const stop of ["SIGTERM", "SIGKILL"] as const) {
    it.skipIf(!canMount)(`a read-only mount (after ${stop}) is EROFS, never "corrupt", never ready; once writable the project loads`, async () => {
      const w = workDir();
      const m = mountTmpfs(w, "4m");
      const data = join(m, "data");
      const first = await serve(w, data);
      expect((await signup(first)).status).toBe(201);
      first.proc.kill(stop);
      await first.proc.exited;
      running.splice(running.indexOf(first), 1);
      expect(sh(["mount", "-o", "remount,ro", m])).toBe(0);

      const r = await serve(w, data);
      const err = r.stderr();
      expect(err).toContain("EROFS");
      expect(err).not.toContain("corrupt");
      expect((await fetch(`${r.url}/readyz`)).status).toBe(503);
      const down = await fetch(`${r.url}/p/p0/auth/login`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
      expect(down.status).toBe(503);

      expect(sh(["mount", "-o", "remount,rw", m])).toBe(0);
      expect(await waitReady(r, 8_000)).toBe(true);
      const login = await fetch(`${r.url}/p/p0/auth/login`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
      expect(login.status).toBe(200); // the data written before is all there
      expect(r.stdout()).toContain("project loaded after an earlier failure");
    }, 60_000);
  }

  it.skipIf(!canMount)("a full disk is ENOSPC, leaves no empty database behind, and the project loads once space returns", async () => {
    const w = workDir(["p0", "p1"]);
    const m = mountTmpfs(w, "2m");
    const data = join(m, "data");
    // p0 exists; then the disk fills up and p1 (new: its database is gone) cannot be created.
    const first = await serve(w, data);
    first.proc.kill("SIGTERM");
    await first.proc.exited;
    running.splice(running.indexOf(first), 1);
    rmSync(join(data, "p1.db"));
    sh(["dd", "if=/dev/zero", `of=${join(m, "fill")}`, "bs=4k", "count=1000"]);

    const r = await serve(w, data);
    const err = r.stderr();
    expect(err).toContain("project p1");
    expect(err).toContain("ENOSPC");
    expect(err).not.toContain("corrupt");
    expect(existsSync(join(data, "p1.db"))).toBe(false);
    expect((await fetch(`${r.url}/readyz`)).status).toBe(503);

    rmSync(join(m, "fill"));
    expect(await waitReady(r, 8_000)).toBe(true);
    expect((await signup(r, "p1")).status).toBe(201);
    // p1 is new: its keys are printed when it finally loads.
    expect(r.stdout()).toMatch(/project p1: admin key sk_\S+ public key pk_\S+ \(shown once\)/);
  }, 60_000);
});

describe("permissions", () => {
  // Root passes every permission check, so the server runs as `nobody` here (root and setpriv needed).
  const setpriv = Bun.which("setpriv");
  const asNobody = process.getuid?.() === 0 && setpriv !== null;

  it.skipIf(!asNobody)("a database the server may not write is EACCES (named, retried), and the other projects serve", async () => {
    const w = workDir(["p0", "p1"]);
    const first = await serve(w, "data");
    first.proc.kill("SIGTERM");
    await first.proc.exited;
    running.splice(running.indexOf(first), 1);
    for (const d of [dir, join(dir, "run"), w, join(w, "projects")]) chmodSync(d, 0o755);
    for (const f of readdirSync(join(w, "projects"))) chmodSync(join(w, "projects", f), 0o644);
    for (const f of ["", "p0.db", "server.key", "latchkey.lock"]) chownSync(join(w, "data", f), 65534, 65534);
    // p1.db stays root's (0600): the nobody server can neither read nor write it.
    const r = await startServe([setpriv!, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "serve", "--config", "projects", "--data", "data", "--port", "0"], { cwd: w });
    running.push(r);
    expect(r.stderr()).toContain("p1.db: EACCES: no permission to read and write");
    expect(r.stderr()).not.toContain("corrupt");
    expect((await signup(r, "p1")).status).toBe(503);
    expect((await signup(r, "p0")).status).toBe(201);
    chownSync(join(w, "data", "p1.db"), 65534, 65534);
    expect(await waitReady(r, 8_000)).toBe(true);
    expect((await signup(r, "p1")).status).toBe(201);
  }, 60_000);
});

describe("files the server must not silently replace", () => {
  it("refuses a zero-byte {id}.db beside other project databases, naming the file", async () => {
    const w = workDir(["p0", "p1"]);
    const first = await serve(w, "data");
    first.proc.kill("SIGTERM");
    await first.proc.exited;
    running.splice(running.indexOf(first), 1);
    writeFileSync(join(w, "data", "p1.db"), ""); // truncated
    rmSync(join(w, "data", "p1.db-wal"), { force: true });
    const r = await serve(w, "data");
    expect(r.stderr()).toContain("p1.db is empty (0 bytes) while this data directory holds other project databases");
    expect(statSync(join(w, "data", "p1.db")).size).toBe(0);
    expect((await signup(r, "p1")).status).toBe(503);
    expect((await signup(r, "p0")).status).toBe(201);
  }, 60_000);

  it("accepts a zero-byte {id}.db in a fresh data directory as a new project", async () => {
    const w = workDir(["p0"]);
    mkdirSync(join(w, "data"));
    writeFileSync(join(w, "data", "p0.db"), "");
    const r = await serve(w, "data");
    expect((await signup(r)).status).toBe(201);
  }, 60_000);

  it("refuses to start when server.key was deleted beside existing databases (nothing regenerated)", async () => {
    const w = workDir();
    const first = await serve(w, "data");
    first.proc.kill("SIGTERM");
    await first.proc.exited;
    running.splice(running.indexOf(first), 1);
    rmSync(join(w, "data", "server.key"));
    const r = await runCli([bin, "serve", "--config", "projects", "--data", "data", "--port", "0"], { cwd: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("server.key is missing");
    expect(r.stderr).toContain("p0.db");
    expect(existsSync(join(w, "data", "server.key"))).toBe(false);
  }, 60_000);

  it("creates a missing data dir (0700) also when LATCHKEY_SERVER_KEY is set", async () => {
    const w = workDir();
    const key = Buffer.alloc(32, 7).toString("base64");
    const r = await serve(w, "nested/data", { LATCHKEY_SERVER_KEY: key });
    expect((await signup(r)).status).toBe(201);
    expect(statSync(join(w, "nested", "data")).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(w, "nested", "data"))).not.toContain("server.key");
  }, 60_000);

  it("refuses a LATCHKEY_SERVER_KEY that is not base64 or is all zero bytes", async () => {
    const w = workDir();
    const valid = Buffer.alloc(32, 7).toString("base64");
    for (const [bad, message] of [
      [`${valid.slice(0, 20)}!${valid.slice(21)}`, "not valid base64"],
      [`${valid} extra`, "not valid base64"],
      [Buffer.alloc(32).toString("base64"), "all zero bytes"],
    ]) {
      const r = await runCli([bin, "serve", "--config", "projects", "--data", "data", "--port", "0"], { cwd: w, env: { LATCHKEY_SERVER_KEY: bad } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain(bad);
    }
  }, 60_000);
});
