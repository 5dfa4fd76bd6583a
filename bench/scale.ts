/**
 * Scale measures (`bun bench/scale.ts`, see bench/README.md): how the cost of a server grows with
 * the number of projects, the number of users, and a large housekeeping job.
 *
 *   projects 1 / 100 / 1,000 / 10,000  -> restart time to /readyz, idle RSS, open fds, CPU seconds
 *                                          in the 10 s after ready, one signup on a random project
 *   users 1,000 / 100,000 / 1,000,000   -> /auth/me req/s, login and signup p50, database size per user
 *   housekeeping, 1,000,000 expired refresh tokens -> longest write stall of a concurrent signup loop
 *
 * Users and refresh tokens are seeded directly in the database (users with one precomputed
 * argon2id hash at the default parameters), so seeding takes seconds, not days of hashing.
 *
 * Flags / environment (SCALE_PROJECTS=1000,10000 and SCALE_USERS=1000,1000000 pick points of a curve):
 *   --quick (SCALE_QUICK=1)   projects 1/100/1,000, users 1,000/100,000, housekeeping 100,000 rows
 *   --bin PATH                the binary to measure (default dist/latchkey, built with `npm run build`)
 *   --only projects,users,housekeeping
 *   --label TEXT              a name for this run in the report (e.g. "main" or "branch")
 *   --out FILE                where the Markdown tables go (default: printed, and bench/out/scale-<label>.md)
 */
import { spawnSync, type Subprocess } from "bun";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = args.includes("--quick") || process.env.SCALE_QUICK === "1";
const ONLY = new Set((flag("--only") ?? "projects,users,housekeeping").split(","));
const LABEL = flag("--label") ?? "this build";
const BIN = flag("--bin") ?? join(ROOT, "dist", "latchkey");
const WORK = join(ROOT, "bench", "out", `scale-${Date.now()}`);
const PROJECT_COUNTS = process.env.SCALE_PROJECTS ? process.env.SCALE_PROJECTS.split(",").map(Number) : QUICK ? [1, 100, 1_000] : [1, 100, 1_000, 10_000];
const USER_COUNTS = process.env.SCALE_USERS ? process.env.SCALE_USERS.split(",").map(Number) : QUICK ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
/** SCALE_HOUSEKEEPING_ROWS=0 is the control: the same signup loop for SCALE_HOUSEKEEPING_SECONDS with nothing to clean up. */
const EXPIRED_ROWS = process.env.SCALE_HOUSEKEEPING_ROWS ? Number(process.env.SCALE_HOUSEKEEPING_ROWS) : QUICK ? 100_000 : 1_000_000;
/** How long the signup loop runs at most while housekeeping deletes (SCALE_HOUSEKEEPING_SECONDS). */
const HOUSEKEEPING_SECONDS = Number(process.env.SCALE_HOUSEKEEPING_SECONDS ?? 120);
const PASSWORD = "correct horse battery";
const CPU_WINDOW_S = 10;
const CLK_TCK = 100;

if (!existsSync(BIN)) {
  console.error(`building ${BIN} (npm run build)`);
  const b = spawnSync(["npm", "run", "build"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (b.exitCode !== 0) process.exit(1);
}
mkdirSync(WORK, { recursive: true });

// -------------------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------------------

function projectYaml(id: string, extra = ""): string {
  return `id: ${id}
tables:
  users:
    auth_table: true
    columns:
      display_name: string
  notes:
    columns:
      body: text
auth:
  rate_limits: { login_failures_per_account: off, login_per_ip: off, signup_per_ip: off }
${extra}`;
}

let nextPort = 20_000 + Math.floor(Math.random() * 20_000);

interface Server {
  proc: Subprocess;
  base: string;
  stop(): Promise<void>;
}

function start(configDir: string, dataDir: string, extra: string[] = [], logFile?: string): Server {
  const port = nextPort++;
  const proc = Bun.spawn([BIN, "serve", "--config", configDir, "--data", dataDir, "--host", "127.0.0.1", "--port", String(port), "--log-level", logFile ? "info" : "warn", ...extra], {
    stdout: logFile ? Bun.file(logFile) : "ignore",
    stderr: "ignore",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
  });
  return {
    proc,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}

async function waitStatus(url: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url} not 200 after ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}

const ADMIN_KEY = "sk_" + "b".repeat(43);

async function adminGet(base: string, path: string): Promise<{ body: any; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(base + path, { headers: { "x-admin-key": ADMIN_KEY } });
  const body = (await r.json()) as any;
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(body)}`);
  return { body, ms };
}

async function post(base: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  const ms = performance.now() - t0;
  let parsed: any = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: r.status, body: parsed, ms };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }) : "—");
const int = (n: number): string => n.toLocaleString("en-US");

const report: string[] = [];
const out = (line = ""): void => {
  report.push(line);
  console.log(line);
};

// -------------------------------------------------------------------------------------------------
// projects
// -------------------------------------------------------------------------------------------------

async function measureProjects(): Promise<void> {
  out(`### Projects (${LABEL})`);
  out();
  out("| projects | first boot to /readyz | restart to /readyz | idle RSS | open fds | CPU s in 10 s after ready | signup on a random project |");
  out("|---:|---:|---:|---:|---:|---:|---|");
  for (const n of PROJECT_COUNTS) {
    const dir = join(WORK, `projects-${n}`);
    const configDir = join(dir, "config");
    const dataDir = join(dir, "data");
    mkdirSync(configDir, { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(configDir, `p${String(i).padStart(5, "0")}.yaml`), projectYaml(`p${String(i).padStart(5, "0")}`));
    // First boot creates every database; the measure is the restart after it.
    let s = start(configDir, dataDir);
    const first = await waitStatus(`${s.base}/readyz`, 30 * 60_000);
    await s.stop();
    s = start(configDir, dataDir);
    const ready = await waitStatus(`${s.base}/readyz`, 30 * 60_000);
    const pid = s.proc.pid;
    const cpu0 = cpuSeconds(pid);
    await Bun.sleep(CPU_WINDOW_S * 1000);
    const cpu = cpuSeconds(pid) - cpu0;
    const rss = rssMiB(pid);
    const fds = fdCount(pid);
    const id = `p${String(Math.floor(Math.random() * n)).padStart(5, "0")}`;
    const signup = await post(s.base, `/p/${id}/auth/signup`, { email: `someone@${id}.example`, password: PASSWORD });
    await s.stop();
    out(`| ${int(n)} | ${fmt(first / 1000, 2)} s | ${fmt(ready / 1000, 2)} s | ${fmt(rss)} MiB | ${int(fds)} | ${fmt(cpu, 2)} | ${id}: ${signup.status} in ${fmt(signup.ms, 0)} ms |`);
    rmSync(dir, { recursive: true, force: true });
  }
  out();
}

// -------------------------------------------------------------------------------------------------
// users
// -------------------------------------------------------------------------------------------------

/** One argon2id hash at the default parameters (m=19456 KiB, t=2), shared by every seeded user. */
async function seedHash(): Promise<string> {
  return Bun.password.hash(PASSWORD, { algorithm: "argon2id", memoryCost: 19456, timeCost: 2 });
}

function seedUsers(dbPath: string, n: number, hash: string): void {
  const db = new Database(dbPath);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF");
  const cols = (db.query("PRAGMA table_info(users)").all() as { name: string; notnull: number; dflt_value: unknown }[]).map((c) => c.name);
  const now = new Date().toISOString();
  const values: Record<string, (i: number) => unknown> = {
    id: (i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    email: (i) => `user${i}@seed.example`,
    password_hash: () => hash,
    _email_canonical: (i) => `user${i}@seed.example`,
    email_verified: () => 0,
    created_at: () => now,
    updated_at: () => now,
    _password_version: () => 1,
    display_name: (i) => `User ${i}`,
  };
  const used = cols.filter((c) => c in values);
  const ins = db.prepare(`INSERT INTO users(${used.map((c) => `"${c}"`).join(", ")}) VALUES (${used.map(() => "?").join(", ")})`);
  const BATCH = 50_000;
  for (let start = 0; start < n; start += BATCH) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + BATCH); i++) ins.run(...(used.map((c) => values[c](i)) as any[]));
    })();
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  settleWrites();
}

/**
 * Seeding writes hundreds of MB that the kernel would otherwise write back during the measure
 * that follows (costing CPU and disk time the small points never pay): flush them first.
 */
function settleWrites(): void {
  spawnSync(["sync"]);
}

function wrkMe(base: string, path: string, token: string, seconds: number): number {
  const r = spawnSync(["wrk", "-t1", "-c16", `-d${seconds}s`, "-H", `Authorization: Bearer ${token}`, base + path], { stdout: "pipe", stderr: "pipe" });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout.toString());
  return m ? Number(m[1]) : NaN;
}

async function fetchLoopMe(base: string, path: string, token: string, seconds: number): Promise<number> {
  let n = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        const r = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
        await r.arrayBuffer();
        if (r.status === 200) n++;
      }
    }),
  );
  return n / seconds;
}

async function measureUsers(): Promise<void> {
  const haveWrk = spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;
  out(`### Users (${LABEL})`);
  out();
  out(`| users | /auth/me req/s (${haveWrk ? "wrk" : "fetch loop"}, 16 connections) | login p50 | signup p50 | GET /v1/users first page p50 | next page p50 | database size per user |`);
  out("|---:|---:|---:|---:|---:|---:|---:|");
  const hash = await seedHash();
  for (const n of USER_COUNTS) {
    const dir = join(WORK, `users-${n}`);
    const configDir = join(dir, "config");
    const dataDir = join(dir, "data");
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, "bench.yaml"), projectYaml("bench") + `keys: { admin: ${ADMIN_KEY} }\n`);
    let s = start(configDir, dataDir);
    await waitStatus(`${s.base}/readyz`, 60_000);
    await s.stop();
    seedUsers(join(dataDir, "bench.db"), n, hash);
    const size = statSync(join(dataDir, "bench.db")).size;
    s = start(configDir, dataDir);
    await waitStatus(`${s.base}/readyz`, 10 * 60_000);
    const logins: number[] = [];
    let token = "";
    for (let i = 0; i < 41; i++) {
      const r = await post(s.base, "/p/bench/auth/login", { email: `user${Math.floor(Math.random() * n)}@seed.example`, password: PASSWORD });
      if (r.status !== 200) throw new Error(`login ${r.status} ${JSON.stringify(r.body)}`);
      token = r.body.data.token;
      logins.push(r.ms);
    }
    const signups: number[] = [];
    for (let i = 0; i < 41; i++) {
      const r = await post(s.base, "/p/bench/auth/signup", { email: `new${i}-${n}@fresh.example`, password: PASSWORD });
      if (r.status !== 201) throw new Error(`signup ${r.status} ${JSON.stringify(r.body)}`);
      signups.push(r.ms);
    }
    // The admin API's user list (SPEC 12): the first page, and the page after it through its cursor.
    const firstPages: number[] = [];
    const nextPages: number[] = [];
    for (let i = 0; i < 41; i++) {
      const first = await adminGet(s.base, "/p/bench/v1/users?limit=50");
      firstPages.push(first.ms);
      const next = await adminGet(s.base, `/p/bench/v1/users?limit=50&cursor=${encodeURIComponent(first.body.data.next_cursor)}`);
      nextPages.push(next.ms);
    }
    // Warm-up, then the measure.
    haveWrk ? wrkMe(s.base, "/p/bench/auth/me", token, 2) : await fetchLoopMe(s.base, "/p/bench/auth/me", token, 2);
    const rps = haveWrk ? wrkMe(s.base, "/p/bench/auth/me", token, QUICK ? 5 : 10) : await fetchLoopMe(s.base, "/p/bench/auth/me", token, QUICK ? 5 : 10);
    await s.stop();
    out(`| ${int(n)} | ${int(Math.round(rps))} | ${fmt(median(logins), 1)} ms | ${fmt(median(signups), 1)} ms | ${fmt(median(firstPages), 1)} ms | ${fmt(median(nextPages), 1)} ms | ${int(Math.round(size / n))} B |`);
    rmSync(dir, { recursive: true, force: true });
  }
  out();
}

// -------------------------------------------------------------------------------------------------
// housekeeping
// -------------------------------------------------------------------------------------------------

function seedExpiredTokens(dbPath: string, n: number): void {
  const db = new Database(dbPath);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF");
  const user = db.query("SELECT id FROM users LIMIT 1").get() as { id: string };
  const old = Date.now() - 60 * 86_400_000;
  const s = db.prepare("INSERT INTO _sessions(id, user_id, created_at, last_used_at) VALUES (?, ?, ?, ?)");
  const t = db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
  const BATCH = 50_000;
  for (let start = 0; start < n; start += BATCH) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + BATCH); i++) {
        const sid = `seed-${i}`;
        s.run(sid, user.id, old, old);
        t.run(new Bun.CryptoHasher("sha256").update(String(i)).digest("hex"), sid, old, old + 30 * 86_400_000);
      }
    })();
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  settleWrites();
}

async function measureHousekeeping(): Promise<void> {
  out(`### Housekeeping (${LABEL})`);
  out();
  const dir = join(WORK, "housekeeping");
  const configDir = join(dir, "config");
  const dataDir = join(dir, "data");
  mkdirSync(configDir, { recursive: true });
  // Cheap hashing here, so a signup's time is its writes, not its hash.
  writeFileSync(join(configDir, "bench.yaml"), projectYaml("bench", "  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }\n"));
  let s = start(configDir, dataDir);
  await waitStatus(`${s.base}/readyz`, 60_000);
  const owner = await post(s.base, "/p/bench/auth/signup", { email: "owner@seed.example", password: PASSWORD });
  if (owner.status !== 201) throw new Error(`signup ${owner.status}`);
  await s.stop();
  seedExpiredTokens(join(dataDir, "bench.db"), EXPIRED_ROWS);
  const count = (): number => {
    const db = new Database(join(dataDir, "bench.db"), { readonly: true });
    try {
      // Expired ones only: every signup of the loop adds a live token.
      return (db.query("SELECT count(*) AS n FROM _refresh_tokens WHERE expires_at < ?").get(Date.now()) as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const logFile = join(dir, "server.log");
  s = start(configDir, dataDir, [], logFile);
  await waitStatus(`${s.base}/readyz`, 10 * 60_000);
  // The first request opens the project; its housekeeping starts 5 s later. A signup loop runs
  // from before that until the expired rows are gone (or HOUSEKEEPING_SECONDS), timing every signup.
  // The server logs one line when the pass ends (sessions, rotation records... come after the
  // tokens): its longest window is the longest time housekeeping held the event loop.
  const passLine = (): { longest_window_ms: number; windows: number; duration_ms: number } | undefined =>
    readFileSync(logFile, "utf8")
      .split("\n")
      .flatMap((l) => {
        try {
          const j = JSON.parse(l);
          return j.msg === "housekeeping" ? [j] : [];
        } catch {
          return [];
        }
      })[0];
  const latencies: { at: number; ms: number }[] = [];
  // The WAL's largest size during the run (a stat every 100 ms): it stays under the 16 MiB limit
  // when the log starts over after each share the clean-up writes.
  let largestWal = 0;
  const walWatch = setInterval(() => {
    try {
      largestWal = Math.max(largestWal, statSync(join(dataDir, "bench.db-wal")).size);
    } catch {
      // no WAL yet
    }
  }, 100);
  const t0 = performance.now();
  let i = 0;
  let doneAt = NaN;
  while (performance.now() - t0 < HOUSEKEEPING_SECONDS * 1000) {
    const r = await post(s.base, "/p/bench/auth/signup", { email: `loop${i++}@seed.example`, password: PASSWORD });
    if (r.status !== 201) throw new Error(`signup ${r.status} ${JSON.stringify(r.body)}`);
    latencies.push({ at: performance.now() - t0, ms: r.ms });
    // The pass is over (its log line is written) once sessions and the rest are done too.
    if (EXPIRED_ROWS > 0 && i % 100 === 0 && passLine() !== undefined) {
      doneAt = performance.now() - t0;
      break;
    }
  }
  if (Number.isFinite(doneAt)) for (let waited = 0; passLine() === undefined && waited < 300_000; waited += 500) await Bun.sleep(500);
  const pass = passLine();
  clearInterval(walWatch);
  await s.stop();
  const before = latencies.filter((l) => l.at < 4_500).map((l) => l.ms);
  const during = latencies.filter((l) => l.at >= 4_500).map((l) => l.ms);
  const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];
  const left = count();
  out(`| expired refresh tokens | signups before (p50 / max) | signups during clean-up (count, p50 / p99 / max) | during: over 50 ms | clean-up | longest window (event loop held) |`);
  out("|---:|---:|---:|---:|---:|---:|");
  out(
    `| ${int(EXPIRED_ROWS)} | ${fmt(median(before))} / ${fmt(Math.max(...before))} ms | ${int(during.length)}, ${fmt(median(during))} / ${fmt(p99(during))} / ${fmt(Math.max(...during))} ms | ${int(during.filter((x) => x > 50).length)} | ${Number.isFinite(doneAt) ? `done ${fmt(doneAt / 1000)} s after the first request` : `${int(left)} tokens left after ${HOUSEKEEPING_SECONDS} s`} | ${!pass ? "— (pass not over)" : pass.windows === undefined ? "— (not logged by this build)" : `${fmt(pass.longest_window_ms)} ms (${int(pass.windows)} windows, pass of ${fmt(pass.duration_ms / 1000)} s)`} |`,
  );
  out();
  out(`Longest write stall seen by the signup loop: the max above minus the p50 before, ${fmt(Math.max(...during) - median(before))} ms. Largest WAL file seen: ${fmt(largestWal / 2 ** 20)} MiB.`);
  const slowest = latencies.filter((l) => l.at >= 4_500 && l.ms > 40).sort((a, b) => b.ms - a.ms).slice(0, 20);
  if (slowest.length > 0) out(`Signups over 40 ms during the clean-up (s after the first request: ms): ${slowest.sort((a, b) => a.at - b.at).map((l) => `${fmt(l.at / 1000, 2)}: ${fmt(l.ms)}`).join(", ")}.`);
  out();
  // SCALE_HOUSEKEEPING_LOG=FILE keeps the server's log (its housekeeping line) for a closer look.
  if (process.env.SCALE_HOUSEKEEPING_LOG) copyFileSync(logFile, process.env.SCALE_HOUSEKEEPING_LOG);
  rmSync(dir, { recursive: true, force: true });
}

// -------------------------------------------------------------------------------------------------

const cpuModel = cpus()[0]?.model ?? "?";
out(`Scale run "${LABEL}": ${new Date().toISOString()}, ${cpus().length} × ${cpuModel}, ${fmt(totalmem() / 2 ** 30)} GiB, binary ${BIN}${QUICK ? ", quick mode" : ""}`);
out(`Load average at start: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
out();
if (ONLY.has("projects")) await measureProjects();
if (ONLY.has("users")) await measureUsers();
if (ONLY.has("housekeeping")) await measureHousekeeping();
out(`Load average at end: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
const file = flag("--out") ?? join(ROOT, "bench", "out", `scale-${LABEL.replace(/[^a-z0-9-]+/gi, "_")}.md`);
writeFileSync(file, report.join("\n") + "\n");
rmSync(WORK, { recursive: true, force: true });
console.error(`written to ${file}`);
