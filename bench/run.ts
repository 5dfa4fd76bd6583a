/**
 * Latchkey benchmark harness (`npm run bench` from the repository root).
 *
 * Builds dist/latchkey (root `npm run build`), starts Latchkey and the reference servers as child
 * processes on free 127.0.0.1 ports, seeds users through each server's own signup, drives every
 * measure with wrk in a separate process (bounded in time), samples each server's RSS from /proc,
 * takes medians over BENCH_RUNS runs and writes bench/RESULTS.md plus raw JSON in bench/out/.
 * See bench/README.md for what is measured and the knobs.
 */
import { spawnSync } from "bun";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join, relative } from "node:path";
import {
  BARE,
  BENCH_DIR,
  BETTER_AUTH,
  BETTER_AUTH_ARGON,
  BETTER_AUTH_REFRESH,
  LATCHKEY,
  LATCHKEY_BIN,
  LATCHKEY_ENTRY,
  LATCHKEY_VARIANTS,
  REFERENCES,
  ROOT,
  type MeasureName,
  type Session,
  type Target,
} from "./targets.ts";

// =================================================================================================
// configuration
// =================================================================================================

const env = process.env;
const truthy = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
const QUICK = truthy(env.BENCH_QUICK);
function num(name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`${name}=${v} is not a number`);
    process.exit(2);
  }
  return n;
}
const ALL_MEASURES: MeasureName[] = ["me", "forward", "refresh", "login", "signup", "burst", "cold", "idle"];

const cfg = {
  quick: QUICK,
  duration: num("BENCH_DURATION", QUICK ? 3 : 10),
  runs: Math.max(1, Math.floor(num("BENCH_RUNS", QUICK ? 1 : 3))),
  warmup: num("BENCH_WARMUP", QUICK ? 1 : 2),
  burstDuration: num("BENCH_BURST_DURATION", QUICK ? 5 : 20),
  coldRuns: Math.max(1, Math.floor(num("BENCH_COLD_RUNS", QUICK ? 3 : 5))),
  coldProjects: Math.max(1, Math.floor(num("BENCH_COLD_PROJECTS", 100))),
  idleSettle: num("BENCH_IDLE_SETTLE", QUICK ? 1 : 3),
  users: Math.max(1, Math.floor(num("BENCH_USERS", QUICK ? 32 : 64))),
  threads: Math.max(1, Math.floor(num("BENCH_WRK_THREADS", 1))),
  timeout: num("BENCH_TIMEOUT", 10),
  conn: {
    me: num("BENCH_CONN_ME", 32),
    forward: num("BENCH_CONN_FORWARD", num("BENCH_CONN_ME", 32)),
    refresh: num("BENCH_CONN_REFRESH", 32),
    login: num("BENCH_CONN_LOGIN", 16),
    signup: num("BENCH_CONN_SIGNUP", 8),
    burst: num("BENCH_CONN_BURST", 200),
  },
  healthzEveryMs: num("BENCH_HEALTHZ_EVERY_MS", 10),
  countAll: truthy(env.BENCH_COUNT_STATUS),
  measures: (env.BENCH_MEASURES ? env.BENCH_MEASURES.split(",").map((s) => s.trim()) : ALL_MEASURES) as MeasureName[],
  only: env.BENCH_ONLY ? env.BENCH_ONLY.split(",").map((s) => s.trim()) : null,
  skipBuild: truthy(env.BENCH_SKIP_BUILD) || env.BENCH_LATCHKEY_BIN !== undefined,
  keepData: truthy(env.BENCH_KEEP_DATA),
  strict: truthy(env.BENCH_STRICT),
  password: "bench-Password-42!",
  /** /auth/me and /auth/forward of one server alternate in this many slices of BENCH_DURATION / slices seconds each. */
  pairSlices: Math.max(1, Math.floor(num("BENCH_PAIR_SLICES", 4))),
  /** Where the markdown report goes: a partial run (BENCH_ONLY / BENCH_MEASURES) can leave RESULTS.md alone. */
  report: env.BENCH_REPORT ? join(ROOT, env.BENCH_REPORT) : join(BENCH_DIR, "RESULTS.md"),
};
for (const m of cfg.measures) {
  if (!ALL_MEASURES.includes(m)) {
    console.error(`BENCH_MEASURES: unknown measure "${m}" (known: ${ALL_MEASURES.join(", ")})`);
    process.exit(2);
  }
}

const STAMP = new Date().toISOString().replace(/[:.]/g, "-");
const OUT = join(BENCH_DIR, "out");
const WORK = join(OUT, `run-${STAMP}`);
const LOGS = join(WORK, "logs");
mkdirSync(LOGS, { recursive: true });

const log = (...a: unknown[]) => console.log(...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const MiB = 1024 * 1024;

// =================================================================================================
// children, /proc
// =================================================================================================

const children = new Set<Bun.Subprocess>();
function cleanupAndExit(code: number) {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
  process.exit(code);
}
process.on("SIGINT", () => cleanupAndExit(130));
process.on("SIGTERM", () => cleanupAndExit(143));

function procStatus(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return null;
  }
}
/** Reset the kernel's peak-RSS mark (VmHWM) of a process we own. */
function resetHwm(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
function cpuTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return NaN;
  }
}

/** Peak RSS of a process during a window: VmHWM (reset at start) and a 50 ms VmRSS poll. */
class RssWatch {
  private max = 0;
  private timer: ReturnType<typeof setInterval>;
  private hwmReset: boolean;
  constructor(private pid: number) {
    this.hwmReset = resetHwm(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }
  private sample() {
    const s = procStatus(this.pid);
    if (s && s.rss > this.max) this.max = s.rss;
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    const s = procStatus(this.pid);
    return Math.max(this.max, this.hwmReset && s ? s.hwm : 0);
  }
}

/** Wait until a server stops burning CPU (e.g. hashes still queued after a load ended). */
async function waitQuiet(pid: number, maxMs = 30_000) {
  const hz = 100;
  const start = Date.now();
  let prev = cpuTicks(pid);
  while (Date.now() - start < maxMs) {
    await sleep(250);
    const now = cpuTicks(pid);
    if (!Number.isFinite(now)) return;
    if ((now - prev) / hz < 0.25 * 0.1) return; // < 10% of one core over 250 ms
    prev = now;
  }
}

function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const p = s.port!;
  s.stop(true);
  return p;
}

type Running = { target: Target; proc: Bun.Subprocess; pid: number; base: string; dataDir: string; logPath: string };

function spawnTarget(t: Target, port: number, dataDir: string, logPath: string, projectsDir?: string) {
  mkdirSync(dataDir, { recursive: true });
  const { cmd, env: extra } = t.launch(port, dataDir, { projectsDir });
  const fd = openSync(logPath, "a");
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { ...process.env, ...extra },
    stdin: "ignore",
    stdout: fd,
    stderr: fd,
  });
  closeSync(fd);
  children.add(proc);
  return proc;
}

function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

async function stopProc(proc: Bun.Subprocess) {
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGTERM");
    const done = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }
  children.delete(proc);
}

async function startServer(t: Target, name = t.key): Promise<Running> {
  const port = freePort();
  const dataDir = join(WORK, "data", name);
  const logPath = join(LOGS, `${name}.log`);
  const proc = spawnTarget(t, port, dataDir, logPath);
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (true) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${t.label} exited (${proc.exitCode ?? proc.signalCode}) before answering /healthz:\n${logTail(logPath)}`);
    }
    try {
      const r = await fetch(base + t.paths.healthz);
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {}
    if (Date.now() - started > 60_000) {
      await stopProc(proc);
      throw new Error(`${t.label} did not answer /healthz within 60 s:\n${logTail(logPath)}`);
    }
    await sleep(20);
  }
  return { target: t, proc, pid: proc.pid, base, dataDir, logPath };
}

// =================================================================================================
// seeding through each server's own API
// =================================================================================================

type Account = { email: string; session: Session };
const jsonHeaders = { "content-type": "application/json" };

async function pool<T>(n: number, conc: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(conc, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

async function signupMany(r: Running, n: number, prefix: string): Promise<Account[]> {
  const t = r.target;
  return pool(n, 4, async (i) => {
    const email = `${prefix}-${i}@bench.test`;
    const res = await fetch(r.base + t.paths.signup, {
      method: "POST",
      headers: jsonHeaders,
      body: `{"email":"${email}","password":"${cfg.password}"${t.signupExtra}}`,
    });
    const text = await res.text();
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`${t.label}: signup ${email} -> ${res.status} ${text.slice(0, 300)}`);
    }
    const session = t.session(res, JSON.parse(text));
    if (!session.token) throw new Error(`${t.label}: signup answer without a token: ${text.slice(0, 300)}`);
    return { email, session };
  });
}

async function loginMany(r: Running, emails: string[]): Promise<Session[]> {
  const t = r.target;
  return pool(emails.length, 4, async (i) => {
    const res = await fetch(r.base + t.paths.login, {
      method: "POST",
      headers: jsonHeaders,
      body: JSON.stringify({ email: emails[i], password: cfg.password }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${t.label}: login ${emails[i]} -> ${res.status} ${text.slice(0, 300)}`);
    const s = t.session(res, JSON.parse(text));
    if (!s.token) throw new Error(`${t.label}: login answer without a token: ${text.slice(0, 300)}`);
    return s;
  });
}

// =================================================================================================
// wrk
// =================================================================================================

const WRK_SCRIPT = join(BENCH_DIR, "wrk.lua");
const WRK_PACED = join(OUT, "wrk-paced.lua");

type WrkRaw = {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
  statuses: Record<string, number>;
  lost: number;
  starved: number;
};

type Sample = {
  rps: number; // 2xx answers per second
  rps_all: number; // all answers per second
  requests: number;
  ok: number;
  non2xx: number;
  statuses: Record<string, number> | null;
  socket_errors: number; // connect + read + write + timeout
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  duration_s: number;
  peak_rss_mib: number;
  /** Server CPU time per answer, µs (load measures only). */
  cpu_us_per_req?: number;
  lost: number;
  starved: number;
  raw: WrkRaw;
  command: string;
};

type WrkJob = {
  base: string;
  path: string;
  connections: number;
  duration: number;
  timeoutS?: number;
  script?: string;
  args: Record<string, string | number>;
};

async function runWrk(job: WrkJob): Promise<{ raw: WrkRaw; command: string }> {
  const threads = Math.min(cfg.threads, job.connections);
  const timeoutS = job.timeoutS ?? cfg.timeout;
  const args = Object.entries({ ...job.args, path: job.path, threads }).map(([k, v]) => `${k}=${v}`);
  const cmd = [
    "wrk",
    "-t", String(threads),
    "-c", String(job.connections),
    "-d", `${job.duration}s`,
    "--timeout", `${timeoutS}s`,
    "-s", job.script ?? WRK_SCRIPT,
    job.base + job.path,
    "--",
    ...args,
  ];
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  children.add(proc);
  const killer = setTimeout(() => proc.kill("SIGKILL"), (job.duration + timeoutS + 30) * 1000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(killer);
  children.delete(proc);
  const command = cmd.map((a) => (/[\s"',{}]/.test(a) ? `'${a}'` : a)).join(" ").replaceAll(ROOT + "/", "");
  const line = out.split("\n").find((l) => l.startsWith("BENCHJSON "));
  if (!line) throw new Error(`wrk failed (exit ${proc.exitCode}): ${command}\n${err.trim() || out.trim()}`);
  return { raw: JSON.parse(line.slice("BENCHJSON ".length)) as WrkRaw, command };
}

function toSample(raw: WrkRaw, command: string, peakRss: number, counted: boolean): Sample {
  const duration_s = raw.duration_us / 1e6;
  let ok: number;
  let statuses: Record<string, number> | null = null;
  if (counted) {
    statuses = raw.statuses;
    ok = Object.entries(raw.statuses).reduce((a, [k, v]) => a + (k.startsWith("2") ? v : 0), 0);
  } else {
    ok = raw.requests - raw.errors.status; // wrk counts answers >= 400 as status errors
  }
  const e = raw.errors;
  return {
    rps: ok / duration_s,
    rps_all: raw.requests / duration_s,
    requests: raw.requests,
    ok,
    non2xx: raw.requests - ok,
    statuses,
    socket_errors: e.connect + e.read + e.write + e.timeout,
    p50_ms: raw.latency_us.p50 / 1000,
    p90_ms: raw.latency_us.p90 / 1000,
    p99_ms: raw.latency_us.p99 / 1000,
    max_ms: raw.latency_us.max / 1000,
    duration_s,
    peak_rss_mib: peakRss / MiB,
    lost: raw.lost,
    starved: raw.starved,
    raw,
    command,
  };
}

// =================================================================================================
// measures
// =================================================================================================

type State = {
  running: Running;
  accounts: Account[];
  files: { tokens: string; logins: string };
};

function writeLines(path: string, lines: string[]) {
  writeFileSync(path, lines.join("\n") + "\n");
}

/** Fresh access tokens for the read measures (logins), once per round so none expires mid-run. */
async function refreshReadTokens(st: State) {
  const sessions = await loginMany(st.running, st.accounts.map((a) => a.email));
  writeLines(st.files.tokens, sessions.map((s) => s.token));
}

async function measureOnce(st: State, m: MeasureName, round: number, duration: number, tag: string): Promise<Sample> {
  const r = st.running;
  const t = r.target;
  let job: WrkJob;
  let counted = true;
  switch (m) {
    case "me":
      counted = cfg.countAll;
      job = { base: r.base, path: t.paths.me, connections: cfg.conn.me, duration, args: { mode: "get", file: st.files.tokens, count: counted ? 1 : 0 } };
      break;
    case "forward":
      // Same load as "me" (same tokens, same connections): only the route differs.
      counted = cfg.countAll;
      job = { base: r.base, path: t.paths.forward!, connections: cfg.conn.forward, duration, args: { mode: "get", file: st.files.tokens, count: counted ? 1 : 0 } };
      break;
    case "refresh": {
      if (t.refreshMode === "chain") {
        // every request must present a never-used refresh token: seed a queue from fresh signups,
        // wrk feeds each answer's successor back into it (see wrk.lua, mode=refresh)
        const need = cfg.conn.refresh + 16;
        const accts = await signupMany(r, need, `rf${tag}-${round}-${t.key}`);
        const file = join(WORK, `${t.key}-refresh-${tag}-${round}.txt`);
        writeLines(file, accts.map((a) => a.session.refresh ?? ""));
        if (accts.some((a) => !a.session.refresh)) throw new Error(`${t.label}: signup gave no refresh_token`);
        await waitQuiet(r.pid);
        job = { base: r.base, path: t.paths.refresh!, connections: cfg.conn.refresh, duration, args: { mode: "refresh", file, json: 1, count: 1 } };
      } else {
        job = { base: r.base, path: t.paths.refresh!, connections: cfg.conn.refresh, duration, args: { mode: "get", file: st.files.tokens, count: 1 } };
      }
      break;
    }
    case "login":
      job = { base: r.base, path: t.paths.login, connections: cfg.conn.login, duration, args: { mode: "post", file: st.files.logins, json: 1, count: 1 } };
      break;
    case "signup":
      job = {
        base: r.base,
        path: t.paths.signup,
        connections: cfg.conn.signup,
        duration,
        args: { mode: "signup", prefix: `su${tag}-${round}-${t.key}`, password: cfg.password, extra: t.signupExtra, json: 1, count: 1 },
      };
      break;
    default:
      throw new Error(`not a load measure: ${m}`);
  }
  await waitQuiet(r.pid);
  const watch = new RssWatch(r.pid);
  const ticks0 = cpuTicks(r.pid);
  const { raw, command } = await runWrk(job);
  const ticks1 = cpuTicks(r.pid);
  const peak = watch.stop();
  const sample = toSample(raw, command, peak, counted);
  // The server's own CPU time per answer (utime + stime at 100 Hz): unlike req/s, it hardly moves
  // when other work on the machine takes the CPU away.
  sample.cpu_us_per_req = raw.requests > 0 ? ((ticks1 - ticks0) / 100) * 1e6 / raw.requests : NaN;
  return sample;
}

type BurstResult = {
  login: Sample;
  healthz: Sample;
  statuses: Record<string, number>;
  unexpected: Record<string, number>;
  peak_rss_mib: number;
  duration_s: number;
};

async function measureBurst(st: State): Promise<BurstResult> {
  const r = st.running;
  const t = r.target;
  await waitQuiet(r.pid);
  const watch = new RssWatch(r.pid);
  const loginJob = runWrk({
    base: r.base,
    path: t.paths.login,
    connections: cfg.conn.burst,
    duration: cfg.burstDuration,
    timeoutS: Math.max(30, cfg.timeout),
    args: { mode: "post", file: st.files.logins, json: 1, count: 1 },
  });
  const healthJob = runWrk({
    base: r.base,
    path: t.paths.healthz,
    connections: 1,
    duration: cfg.burstDuration,
    timeoutS: Math.max(30, cfg.timeout),
    script: WRK_PACED,
    args: { mode: "plain", count: 1 },
  });
  const [login, health] = await Promise.all([loginJob, healthJob]);
  const peak = watch.stop();
  const ls = toSample(login.raw, login.command, peak, true);
  const hs = toSample(health.raw, health.command, peak, true);
  const unexpected: Record<string, number> = {};
  for (const [k, v] of Object.entries(login.raw.statuses)) if (!["200", "429", "503"].includes(k)) unexpected[k] = v;
  return { login: ls, healthz: hs, statuses: login.raw.statuses, unexpected, peak_rss_mib: peak / MiB, duration_s: cfg.burstDuration };
}

interface ColdTimes {
  healthz: number[];
  /** Spawn to first /readyz 200 (every project loaded), where the server has one. */
  readyz: number[];
}

async function pollUntil200(url: string, t0: number, proc: ReturnType<typeof spawnTarget>, logPath: string, label: string): Promise<number> {
  while (true) {
    try {
      const res = await fetch(url, { keepalive: false });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - t0;
    } catch {}
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${label} exited during cold start:\n${logTail(logPath)}`);
    }
    if (performance.now() - t0 > 30_000) {
      await stopProc(proc);
      throw new Error(`${label}: no 200 from ${url} within 30 s of spawn:\n${logTail(logPath)}`);
    }
  }
}

/**
 * Cold starts: spawn -> first /healthz 200 and -> first /readyz 200. `restart` reuses the data dir
 * of a first boot (databases exist), which is what a restart of a running deployment does.
 */
async function coldStarts(t: Target, projectsDir: string | undefined, label: string, opts: { restart?: boolean } = {}): Promise<ColdTimes> {
  const times: ColdTimes = { healthz: [], readyz: [] };
  for (let i = 0; i < cfg.coldRuns; i++) {
    const port = freePort();
    const dataDir = join(WORK, "cold", `${t.key}-${label}-${i}`);
    const logPath = join(LOGS, `cold-${t.key}-${label}.log`);
    mkdirSync(dataDir, { recursive: true });
    if (opts.restart) {
      // A first boot creates the databases; only the second one is timed.
      const warm = spawnTarget(t, port, dataDir, logPath, projectsDir);
      await pollUntil200(`http://127.0.0.1:${port}${t.paths.readyz ?? t.paths.healthz}`, performance.now(), warm, logPath, t.label);
      await stopProc(warm);
    }
    const t0 = performance.now();
    const proc = spawnTarget(t, port, dataDir, logPath, projectsDir);
    times.healthz.push(await pollUntil200(`http://127.0.0.1:${port}${t.paths.healthz}`, t0, proc, logPath, t.label));
    if (t.paths.readyz) times.readyz.push(await pollUntil200(`http://127.0.0.1:${port}${t.paths.readyz}`, t0, proc, logPath, t.label));
    await stopProc(proc);
    if (!cfg.keepData) rmSync(dataDir, { recursive: true, force: true });
  }
  return times;
}

async function idleRss(t: Target): Promise<{ mib: number; samples: number[] }> {
  const r = await startServer(t, `${t.key}-idle`);
  await sleep(cfg.idleSettle * 1000);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push((procStatus(r.pid)?.rss ?? NaN) / MiB);
    await sleep(200);
  }
  await stopProc(r.proc);
  return { mib: median(samples), samples };
}

// =================================================================================================
// environment: wrk, machine, build
// =================================================================================================

function wrkVersion(): string | null {
  try {
    const r = spawnSync(["wrk", "--version"], { stdout: "pipe", stderr: "pipe" });
    const text = (r.stdout.toString() + r.stderr.toString()).split("\n")[0].trim();
    return text.startsWith("wrk") ? text.replace(/\s*Copyright.*$/, "") : null;
  } catch {
    return null;
  }
}

function ensureWrk(): string {
  let v = wrkVersion();
  if (v) return v;
  const howTo =
    "wrk (the HTTP load generator this harness uses) is not installed.\n" +
    "Install it from Debian's packages:   apt-get install -y wrk      (use sudo when not root;\n" +
    "run apt-get update first on a fresh machine). Then run npm run bench again.";
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync(["sh", "-c", "command -v apt-get"], { stdout: "pipe" }).exitCode === 0;
  if (isRoot && hasApt && !truthy(env.BENCH_NO_INSTALL)) {
    log("wrk not found: installing Debian's wrk package (apt-get install -y wrk; BENCH_NO_INSTALL=1 disables this)");
    const aptEnv = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    let r = spawnSync(["apt-get", "install", "-y", "wrk"], { stdout: "inherit", stderr: "inherit", env: aptEnv });
    if (r.exitCode !== 0) {
      spawnSync(["apt-get", "update"], { stdout: "inherit", stderr: "inherit", env: aptEnv });
      r = spawnSync(["apt-get", "install", "-y", "wrk"], { stdout: "inherit", stderr: "inherit", env: aptEnv });
    }
    v = wrkVersion();
    if (v) return v;
  }
  console.error(howTo);
  process.exit(2);
}

function sh(cmd: string): string {
  try {
    const r = spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
    return r.exitCode === 0 ? r.stdout.toString().trim() : "";
  } catch {
    return "";
  }
}

function loadavg(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function machine() {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const mhz = /^cpu MHz\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim();
  let baVersion = "not installed";
  try {
    baVersion = JSON.parse(readFileSync(join(BENCH_DIR, "node_modules", "better-auth", "package.json"), "utf8")).version;
  } catch {}
  const commit = sh(`git -C '${ROOT}' rev-parse --short HEAD`);
  const dirty = sh(`git -C '${ROOT}' status --porcelain --untracked-files=no`) !== "";
  return {
    cores_nproc: Number(sh("nproc")) || cpus().length,
    cpu_model: model + (mhz ? ` (${Math.round(Number(mhz))} MHz)` : ""),
    memory_gib: +(totalmem() / 1024 ** 3).toFixed(1),
    kernel: release(),
    data_fs: sh(`df --output=fstype '${OUT}' | tail -1`) || "unknown",
    bun: Bun.version,
    wrk: "",
    better_auth: baVersion,
    loadavg_at_start: loadavg(),
    commit: commit ? commit + (dirty ? " (with uncommitted changes)" : "") : "unknown",
    date: new Date().toISOString(),
  };
}

function exactCommand(): string {
  const knobs = Object.keys(env)
    .filter((k) => k.startsWith("BENCH_"))
    .sort()
    .map((k) => `${k}=${env[k]}`);
  const base = env.npm_lifecycle_event === "bench" ? "npm run bench" : `bun ${relative(ROOT, process.argv[1] ?? "bench/run.ts")}`;
  return [...knobs, base].join(" ");
}

function buildLatchkey(): { ok: boolean; note: string } {
  if (env.BENCH_LATCHKEY_BIN) {
    return existsSync(LATCHKEY_BIN)
      ? { ok: true, note: `using BENCH_LATCHKEY_BIN=${LATCHKEY_BIN} (not rebuilt)` }
      : { ok: false, note: `dist/latchkey not built: BENCH_LATCHKEY_BIN=${LATCHKEY_BIN} does not exist` };
  }
  if (cfg.skipBuild) {
    return existsSync(LATCHKEY_BIN)
      ? { ok: true, note: "BENCH_SKIP_BUILD=1: using the existing dist/latchkey" }
      : { ok: false, note: "dist/latchkey not built (BENCH_SKIP_BUILD=1 and no binary)" };
  }
  if (!existsSync(LATCHKEY_ENTRY)) {
    return { ok: false, note: "dist/latchkey not built: src/main.ts does not exist yet, nothing to build" };
  }
  log("building dist/latchkey (npm run build) ...");
  const r = spawnSync(["npm", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const outText = (r.stdout.toString() + r.stderr.toString()).trim();
  writeFileSync(join(LOGS, "build.log"), outText + "\n");
  if (r.exitCode !== 0 || !existsSync(LATCHKEY_BIN)) {
    const tail = outText.split("\n").slice(-8).join("\n");
    return { ok: false, note: `dist/latchkey not built: npm run build failed (exit ${r.exitCode})\n${tail}` };
  }
  return { ok: true, note: "built with npm run build" };
}

// =================================================================================================
// main
// =================================================================================================

type Results = {
  samples: Record<string, Partial<Record<MeasureName, Sample[]>>>;
  burst: Record<string, BurstResult>;
  cold: Record<string, Record<string, ColdTimes>>;
  idle: Record<string, { mib: number; samples: number[] }>;
  lifetime_peak_rss_mib: Record<string, number>;
  failures: string[];
};

const results: Results = { samples: {}, burst: {}, cold: {}, idle: {}, lifetime_peak_rss_mib: {}, failures: [] };
const want = (m: MeasureName) => cfg.measures.includes(m);
const selected = (t: Target) => !cfg.only || cfg.only.includes(t.key);

async function main() {
  log(`Latchkey benchmark harness — ${QUICK ? "QUICK mode, " : ""}${cfg.runs} run(s) × ${cfg.duration} s per measure`);
  const needsBetterAuth = REFERENCES.some((t) => t.key.startsWith("better-auth") && selected(t));
  if (needsBetterAuth && !existsSync(join(BENCH_DIR, "node_modules", "better-auth"))) {
    console.error("bench/node_modules is missing: run `npm --prefix bench ci` first (npm run bench does it).");
    process.exit(2);
  }
  const wrkV = ensureWrk();
  const mach = { ...machine(), wrk: wrkV };
  log(`machine: ${mach.cores_nproc} cores (nproc), ${mach.cpu_model}, ${mach.memory_gib} GiB, bun ${mach.bun}, ${wrkV}, load ${mach.loadavg_at_start}`);
  if (cfg.runs < 3) log(`note: BENCH_RUNS=${cfg.runs} < 3: medians need at least 3 runs; this is a trial, not a result`);
  writeFileSync(WRK_PACED, readFileSync(WRK_SCRIPT, "utf8") + `\nfunction delay() return ${cfg.healthzEveryMs} end\n`);

  // ---- Latchkey
  const anyLatchkey = [LATCHKEY, ...LATCHKEY_VARIANTS].some(selected);
  const lk = anyLatchkey ? buildLatchkey() : { ok: false, note: "not selected (BENCH_ONLY)" };
  log(lk.ok ? `latchkey: ${lk.note}` : `latchkey: SKIPPED — ${lk.note}`);

  const targets = [...(lk.ok ? [LATCHKEY, ...LATCHKEY_VARIANTS] : []), ...REFERENCES].filter(selected);
  for (const t of targets) t.prepare?.(WORK);
  const loadMeasures: MeasureName[] = (["me", "forward", "refresh", "login", "signup"] as MeasureName[]).filter(want);
  const takesLoad = (t: Target) => t.measures.some((m) => loadMeasures.includes(m) || (m === "burst" && want("burst")));

  // ---- start and seed every server that takes load
  const states = new Map<string, State>();
  for (const t of targets.filter(takesLoad)) {
    log(`starting ${t.label} ...`);
    let running: Running | null = null;
    try {
      running = await startServer(t);
      log(`  pid ${running.pid} at ${running.base}; seeding ${cfg.users} users through ${t.paths.signup}`);
      const accounts = await signupMany(running, cfg.users, `u-${t.key}`);
      const files = { tokens: join(WORK, `${t.key}-tokens.txt`), logins: join(WORK, `${t.key}-logins.txt`) };
      writeLines(files.tokens, accounts.map((a) => a.session.token));
      writeLines(files.logins, accounts.map((a) => JSON.stringify({ email: a.email, password: cfg.password })));
      states.set(t.key, { running, accounts, files });
      results.samples[t.key] = {};
    } catch (e) {
      results.failures.push(`${t.key}: ${(e as Error).message}`);
      console.error(`  FAILED: ${(e as Error).message}`);
      if (running) await stopProc(running.proc);
    }
  }

  // ---- load measures: rounds interleave the servers so drift hits all of them alike
  for (let round = 1; round <= cfg.runs; round++) {
    log(`round ${round}/${cfg.runs}`);
    // bearer tokens for the read loads: the signup tokens in round 1, fresh logins after that
    for (const st of round > 1 ? states.values() : []) {
      const t = st.running.target;
      if (((want("me") || want("forward")) && (t.measures.includes("me") || t.measures.includes("forward"))) || (want("refresh") && t.measures.includes("refresh") && t.refreshMode === "bearer-get")) {
        await refreshReadTokens(st);
      }
    }
    for (const m of loadMeasures) {
      // /auth/forward is compared with /auth/me of the same server: both are measured together, below.
      if (m === "forward" && want("me")) continue;
      const order = [...states.values()].filter((s) => s.running.target.measures.includes(m));
      const rot = order.length ? (round - 1) % order.length : 0;
      for (const st of [...order.slice(rot), ...order.slice(0, rot)]) {
        const t = st.running.target;
        const record = (mm: MeasureName, s: Sample): void => {
          (results.samples[t.key]![mm] ??= []).push(s);
          log(
            `  ${mm.padEnd(7)} ${t.key.padEnd(22)} ${fmtInt(s.rps).padStart(8)} req/s  p50 ${fmtMs(s.p50_ms)}  p99 ${fmtMs(s.p99_ms)}  non-2xx ${s.non2xx}  sock-err ${s.socket_errors}  peak RSS ${s.peak_rss_mib.toFixed(0)} MiB  cpu ${(s.cpu_us_per_req ?? NaN).toFixed(1)} µs/answer` +
              (s.lost || s.starved ? `  (refresh chain: lost ${s.lost}, starved ${s.starved})` : ""),
          );
        };
        try {
          if (m === "me" && want("forward") && t.measures.includes("forward")) {
            // A ratio of two loads on one server is only as good as the time between them: on a
            // busy machine, alternate /auth/me and /auth/forward in short slices (me, forward,
            // forward, me, ...) and keep every slice as a run.
            if (round === 1 && cfg.warmup > 0) for (const mm of ["me", "forward"] as const) await measureOnce(st, mm, round, cfg.warmup, "w");
            const slice = Math.max(1, Math.round(cfg.duration / cfg.pairSlices));
            for (let k = 0; k < cfg.pairSlices; k++) {
              for (const mm of (k % 2 === 0 ? ["me", "forward"] : ["forward", "me"]) as MeasureName[]) record(mm, await measureOnce(st, mm, round, slice, "m"));
            }
            continue;
          }
          if (round === 1 && cfg.warmup > 0) await measureOnce(st, m, round, cfg.warmup, "w");
          record(m, await measureOnce(st, m, round, cfg.duration, "m"));
        } catch (e) {
          results.failures.push(`${t.key} ${m} round ${round}: ${(e as Error).message}`);
          console.error(`  ${m} ${t.key}: FAILED ${(e as Error).message}`);
        }
      }
    }
  }

  // ---- login burst (last: it leaves hash work queued behind it)
  if (want("burst")) {
    for (const st of states.values()) {
      const t = st.running.target;
      if (!t.measures.includes("burst")) continue;
      log(`burst: ${cfg.conn.burst} connections on ${t.paths.login} for ${cfg.burstDuration} s, /healthz polled every ${cfg.healthzEveryMs} ms (${t.key})`);
      try {
        const b = await measureBurst(st);
        results.burst[t.key] = b;
        log(
          `  ${t.key}: answers ${JSON.stringify(b.statuses)}, socket errors ${b.login.socket_errors}, peak RSS ${b.peak_rss_mib.toFixed(0)} MiB, /healthz p50 ${fmtMs(b.healthz.p50_ms)} p99 ${fmtMs(b.healthz.p99_ms)} (${b.healthz.requests} polls)`,
        );
      } catch (e) {
        results.failures.push(`${t.key} burst: ${(e as Error).message}`);
        console.error(`  burst ${t.key}: FAILED ${(e as Error).message}`);
      }
    }
  }

  for (const [key, st] of states) {
    results.lifetime_peak_rss_mib[key] = (procStatus(st.running.pid)?.hwm ?? NaN) / MiB;
    await stopProc(st.running.proc);
  }

  // ---- cold start and idle RSS (fresh processes, fresh data dirs)
  if (want("cold")) {
    for (const t of targets.filter((x) => x.measures.includes("cold"))) {
      try {
        results.cold[t.key] = {};
        const record = (k: string, times: ColdTimes): void => {
          results.cold[t.key]![k] = times;
          const ready = times.readyz.length ? `; /readyz median ${fmtMs(median(times.readyz))}` : "";
          log(`cold start ${t.key} (${k}): /healthz median ${fmtMs(median(times.healthz))} of ${times.healthz.map(fmtMs).join(", ")}${ready}`);
        };
        record("1", await coldStarts(t, undefined, "1"));
        if (t.writeProjects) {
          const dir = join(WORK, `projects-${cfg.coldProjects}`);
          t.writeProjects(dir, cfg.coldProjects);
          const k = String(cfg.coldProjects);
          record(k, await coldStarts(t, dir, k));
          record(`${k} (restart)`, await coldStarts(t, dir, `${k}-restart`, { restart: true }));
        }
      } catch (e) {
        results.failures.push(`${t.key} cold start: ${(e as Error).message}`);
        console.error(`  cold start ${t.key}: FAILED ${(e as Error).message}`);
      }
    }
  }
  if (want("idle")) {
    for (const t of targets.filter((x) => x.measures.includes("idle"))) {
      try {
        results.idle[t.key] = await idleRss(t);
        log(`idle RSS ${t.key}: ${results.idle[t.key]!.mib.toFixed(1)} MiB (${cfg.idleSettle} s after the first /healthz 200)`);
      } catch (e) {
        results.failures.push(`${t.key} idle RSS: ${(e as Error).message}`);
        console.error(`  idle RSS ${t.key}: FAILED ${(e as Error).message}`);
      }
    }
  }

  // ---- report
  const verdicts = evaluate(lk);
  const md = renderMarkdown(mach, lk, verdicts);
  writeFileSync(cfg.report, md);
  const rawPath = join(OUT, `results-${STAMP}.json`);
  const raw = JSON.stringify({ command: exactCommand(), config: cfg, machine: mach, latchkey: lk, results, verdicts }, null, 2);
  writeFileSync(rawPath, raw + "\n");
  writeFileSync(join(OUT, "latest.json"), raw + "\n");
  if (!cfg.keepData) rmSync(join(WORK, "data"), { recursive: true, force: true });
  if (!cfg.keepData) rmSync(join(WORK, "cold"), { recursive: true, force: true });

  log("");
  log(renderTargetsTable(verdicts));
  log("");
  log(`wrote ${relative(ROOT, cfg.report)} and ${relative(ROOT, rawPath)} (server logs in ${relative(ROOT, LOGS)})`);
  if (results.failures.length) log(`${results.failures.length} failure(s):\n  ${results.failures.join("\n  ")}`);
  const failed = verdicts.some((v) => v.result !== "PASS" && v.result !== "reported");
  for (const c of children) await stopProc(c);
  if (cfg.strict && (failed || results.failures.length)) return 1;
  if (results.failures.length && states.size === 0) return 1;
  return 0;
}

// =================================================================================================
// evaluation and report
// =================================================================================================

type Verdict = { measure: string; latchkey: string; reference: string; ratio: string; target: string; result: string };

const med = (key: string, m: MeasureName, f: (s: Sample) => number = (s) => s.rps) => {
  const xs = results.samples[key]?.[m];
  return xs && xs.length ? median(xs.map(f)) : NaN;
};
function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—";
}
function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return "—";
  return n < 10 ? `${n.toFixed(2)} ms` : n < 100 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}
const fmtRatio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "—");

function evaluate(lk: { ok: boolean; note: string }): Verdict[] {
  const v: Verdict[] = [];
  const NM = lk.ok ? "not measured" : `not measured (${lk.note.split("\n")[0].replace(/^dist\/latchkey not built: .*/, "dist/latchkey not built")})`;
  const ratioRow = (measure: string, m: MeasureName, refKey: string, refLabel: string, factor: number, target: string) => {
    const a = med("latchkey", m);
    const b = med(refKey, m);
    const ratio = a / b;
    v.push({
      measure,
      latchkey: Number.isFinite(a) ? `${fmtInt(a)} req/s` : "—",
      reference: Number.isFinite(b) ? `${refLabel}: ${fmtInt(b)} req/s` : `${refLabel}: —`,
      ratio: fmtRatio(ratio),
      target,
      result: !Number.isFinite(a) ? NM : !Number.isFinite(b) ? "reference not measured" : ratio >= factor ? "PASS" : "FAIL",
    });
  };
  ratioRow("GET /auth/me req/s", "me", "bare", "bare GET /me", 0.7, "≥ 0.7 × bare");
  ratioRow("GET /auth/me req/s", "me", "better-auth", "better-auth get-session", 8, "≥ 8 × better-auth");
  {
    const a = med("latchkey", "refresh");
    v.push({
      measure: "POST /auth/refresh req/s (rotation, FULL fsync)",
      latchkey: Number.isFinite(a) ? `${fmtInt(a)} req/s` : "—",
      reference: `bare POST /refresh: ${fmtInt(med("bare", "refresh"))} req/s`,
      ratio: fmtRatio(a / med("bare", "refresh")),
      target: "report",
      result: Number.isFinite(a) ? "reported" : NM,
    });
  }
  ratioRow("POST /auth/refresh req/s", "refresh", "better-auth-refresh", "better-auth get-session with session refresh (updateAge=0)", 2, "≥ 2 × better-auth's closest write path");
  ratioRow(`POST /auth/login req/s at ${cfg.conn.login} connections`, "login", "bare", "bare POST /login", 0.9, "≥ 0.9 × bare");
  ratioRow(`POST /auth/signup req/s at ${cfg.conn.signup} connections`, "signup", "bare", "bare POST /signup", 0.9, "≥ 0.9 × bare");

  // SPEC 13: /auth/forward on the same server and tokens as /auth/me; EdDSA / ES256 next to HS256.
  const pairRow = (measure: string, a: { key: string; m: MeasureName }, b: { key: string; m: MeasureName; label: string }, factor: number | null, target: string) => {
    const x = med(a.key, a.m);
    const y = med(b.key, b.m);
    if (!Number.isFinite(x) && !Number.isFinite(y)) return;
    const ratio = x / y;
    v.push({
      measure,
      latchkey: Number.isFinite(x) ? `${fmtInt(x)} req/s` : "—",
      reference: `${b.label}: ${Number.isFinite(y) ? `${fmtInt(y)} req/s` : "—"}`,
      ratio: fmtRatio(ratio),
      target,
      result: !Number.isFinite(x) ? NM : !Number.isFinite(y) ? "reference not measured" : factor === null ? "reported" : ratio >= factor ? "PASS" : "FAIL",
    });
  };
  for (const [key, alg] of [["latchkey", "HS256"], ["latchkey-eddsa", "EdDSA"], ["latchkey-es256", "ES256"]] as const) {
    pairRow(`GET /auth/forward req/s (${alg})`, { key, m: "forward" }, { key, m: "me", label: `GET /auth/me (${alg}, same server)` }, 0.9, "≥ 0.9 × /auth/me");
    // The same comparison in server CPU per answer (ratio = me / forward, so ≥ 0.9 means "as cheap").
    const meCpu = med(key, "me", cpuOf);
    const fwCpu = med(key, "forward", cpuOf);
    if (Number.isFinite(meCpu) || Number.isFinite(fwCpu)) {
      const ratio = meCpu / fwCpu;
      v.push({
        measure: `GET /auth/forward server CPU per answer (${alg})`,
        latchkey: Number.isFinite(fwCpu) ? `${fwCpu.toFixed(1)} µs` : "—",
        reference: `GET /auth/me (${alg}, same server): ${Number.isFinite(meCpu) ? `${meCpu.toFixed(1)} µs` : "—"}`,
        ratio: fmtRatio(ratio),
        target: "me / forward ≥ 0.9",
        result: !Number.isFinite(ratio) ? NM : ratio >= 0.9 ? "PASS" : "FAIL",
      });
    }
  }
  for (const [key, alg] of [["latchkey-eddsa", "EdDSA"], ["latchkey-es256", "ES256"]] as const) {
    pairRow(`GET /auth/me req/s (${alg})`, { key, m: "me" }, { key: "latchkey", m: "me", label: "GET /auth/me (HS256)" }, null, "report");
    pairRow(`POST /auth/login req/s at ${cfg.conn.login} connections (${alg})`, { key, m: "login" }, { key: "latchkey", m: "login", label: "POST /auth/login (HS256)" }, null, "report");
  }

  // burst
  {
    const b = results.burst["latchkey"];
    const ref = results.burst["bare"];
    const refText = ref
      ? `bare: ${fmtStatuses(ref.statuses)}, peak ${ref.peak_rss_mib.toFixed(0)} MiB, /healthz p99 ${fmtMs(ref.healthz.p99_ms)}`
      : "bare: —";
    if (!b) {
      v.push({ measure: `login burst: ${cfg.conn.burst} connections for ${cfg.burstDuration} s`, latchkey: "—", reference: refText, ratio: "", target: "only 200/429/503, peak RSS ≤ 400 MiB, /healthz p99 ≤ 50 ms", result: NM });
    } else {
      const onlyAllowed = Object.keys(b.unexpected).length === 0 && b.login.socket_errors === 0;
      const parts = [
        onlyAllowed ? "answers ok" : `other answers ${fmtStatuses(b.unexpected)}${b.login.socket_errors ? `, ${b.login.socket_errors} socket errors/timeouts` : ""}`,
        b.peak_rss_mib <= 400 ? "RSS ok" : "RSS over",
        b.healthz.p99_ms <= 50 ? "healthz ok" : "healthz slow",
      ];
      const pass = onlyAllowed && b.peak_rss_mib <= 400 && b.healthz.p99_ms <= 50;
      v.push({
        measure: `login burst: ${cfg.conn.burst} connections for ${cfg.burstDuration} s`,
        latchkey: `${fmtStatuses(b.statuses)}; peak RSS ${b.peak_rss_mib.toFixed(0)} MiB; /healthz p99 ${fmtMs(b.healthz.p99_ms)}`,
        reference: refText,
        ratio: "",
        target: "only 200/429/503, peak RSS ≤ 400 MiB, /healthz p99 ≤ 50 ms",
        result: pass ? "PASS" : `FAIL (${parts.join(", ")})`,
      });
    }
  }
  // cold start (the target is to the first /healthz 200; time to /readyz is reported beside it)
  for (const [k, limit] of [["1", 100], [String(cfg.coldProjects), 1000], [`${cfg.coldProjects} (restart)`, 1000]] as const) {
    const xs = results.cold["latchkey"]?.[k];
    const a = xs ? median(xs.healthz) : NaN;
    const ready = xs?.readyz.length ? `; every project loaded (/readyz 200): ${fmtMs(median(xs.readyz))}` : "";
    const bareRef = results.cold["bare"]?.["1"];
    v.push({
      measure: `cold start to first /healthz 200, ${k === "1" ? "1 project" : `${k} projects`}${k.includes("restart") ? "" : " (fresh data dir)"}`,
      latchkey: Number.isFinite(a) ? `${fmtMs(a)}${ready}` : "—",
      reference: k === "1" && bareRef ? `bare (bun bench/bare.ts): ${fmtMs(median(bareRef.healthz))}` : "",
      ratio: "",
      target: `≤ ${limit} ms`,
      result: !Number.isFinite(a) ? NM : a <= limit ? "PASS" : "FAIL",
    });
  }
  {
    const a = results.idle["latchkey"]?.mib ?? NaN;
    const refs = ["bare", "better-auth"].filter((k) => results.idle[k]).map((k) => `${k}: ${results.idle[k]!.mib.toFixed(0)} MiB`);
    v.push({
      measure: "idle RSS, 1 project",
      latchkey: Number.isFinite(a) ? `${a.toFixed(1)} MiB` : "—",
      reference: refs.join("; "),
      ratio: "",
      target: "≤ 80 MiB",
      result: !Number.isFinite(a) ? NM : a <= 80 ? "PASS" : "FAIL",
    });
  }
  return v;
}

function fmtStatuses(s: Record<string, number>): string {
  const e = Object.entries(s);
  return e.length ? e.map(([k, n]) => `${k}×${n}`).join(" ") : "none";
}

function renderTargetsTable(v: Verdict[]): string {
  const rows = v.map((x) => `| ${x.measure} | ${x.latchkey} | ${x.reference} | ${x.ratio} | ${x.target} | ${x.result} |`);
  return ["| measure | Latchkey | reference | ratio | target | result |", "|---|---|---|---|---|---|", ...rows].join("\n");
}

const cpuOf = (s: Sample) => s.cpu_us_per_req ?? NaN;

const MEASURE_TEXT: Record<string, string> = {
  me: "read: token check + user read (Latchkey /auth/me, bare /me, better-auth get-session)",
  forward: "forward auth: token check + identity headers (Latchkey /auth/forward, same tokens and connections as /auth/me)",
  refresh: "refresh (Latchkey/bare: rotation chain; better-auth: get-session with session refresh)",
  login: "login (hash-bound)",
  signup: "signup (hash-bound)",
};

function renderMarkdown(mach: ReturnType<typeof machine> & { wrk: string }, lk: { ok: boolean; note: string }, verdicts: Verdict[]): string {
  const L: string[] = [];
  const trial = cfg.runs < 3 || cfg.duration < 10 || cfg.quick;
  L.push("# Latchkey benchmark results", "");
  if (trial) {
    L.push(
      `> **Trial run, not a result:** ${cfg.runs} run(s) of ${cfg.duration} s each${cfg.quick ? " (BENCH_QUICK)" : ""}. ` +
        "A result needs the defaults (3 runs × 10 s, burst 20 s): run `npm run bench`.",
      "",
    );
  }
  if (!lk.ok) L.push(`> **Latchkey was not measured:** ${lk.note.split("\n")[0]}. Only the references were run.`, "");
  L.push("Written by `bench/run.ts` (see `bench/README.md`). Every number is from one run of the harness on one machine;");
  L.push("ratios put Latchkey next to the references measured in the same run.", "");
  L.push(`Command: \`${exactCommand()}\``, "");
  L.push("## Machine", "");
  L.push("| | |", "|---|---|");
  L.push(`| cores (nproc) | ${mach.cores_nproc} |`);
  L.push(`| CPU | ${mach.cpu_model} |`);
  L.push(`| memory | ${mach.memory_gib} GiB |`);
  L.push(`| kernel | ${mach.kernel} |`);
  L.push(`| filesystem of the data dirs | ${mach.data_fs} |`);
  L.push(`| bun | ${mach.bun} |`);
  L.push(`| load generator | ${mach.wrk} (Debian package), separate process, 127.0.0.1 |`);
  L.push(`| better-auth | ${mach.better_auth} |`);
  L.push(`| load average at start / end | ${mach.loadavg_at_start} / ${loadavg()} |`);
  L.push(`| commit | ${mach.commit} |`);
  L.push(`| date | ${mach.date} |`, "");
  L.push(
    `Settings: ${cfg.runs} run(s) × ${cfg.duration} s per measure and server (median reported), ${cfg.warmup} s warm-up before the first run; ` +
      `connections: me ${cfg.conn.me}, forward ${cfg.conn.forward}, refresh ${cfg.conn.refresh}, login ${cfg.conn.login}, signup ${cfg.conn.signup}, burst ${cfg.conn.burst} for ${cfg.burstDuration} s; ` +
      `wrk -t${cfg.threads}, request timeout ${cfg.timeout} s (30 s in the burst); ${cfg.users} seeded users per server; cold starts ×${cfg.coldRuns}.`,
    "",
  );
  const load1 = Number(mach.loadavg_at_start.split(" ")[0]);
  if (load1 > mach.cores_nproc * 0.5) {
    L.push(`> The machine was busy with other work (1-minute load average ${load1} on ${mach.cores_nproc} cores at the start): absolute numbers are low and noisy. The servers' runs are interleaved so that drift hits all of them, but for a result rerun on a quiet machine.`, "");
  }
  L.push("## Targets", "", renderTargetsTable(verdicts), "");

  L.push("## All load measurements", "");
  L.push("req/s counts 2xx answers only. p50/p99 are medians over the runs; non-2xx and socket errors are summed over the runs; peak RSS is the highest of the runs (VmHWM reset before each run, plus a 50 ms VmRSS poll).", "");
  L.push("| server | measure | req/s (median) | runs | p50 | p99 | non-2xx | socket errors | peak RSS | server CPU / answer |", "|---|---|---|---|---|---|---|---|---|---|");
  for (const [key, byM] of Object.entries(results.samples)) {
    for (const m of ["me", "forward", "refresh", "login", "signup"] as MeasureName[]) {
      const xs = byM[m];
      if (!xs || !xs.length) continue;
      const t = [LATCHKEY, ...LATCHKEY_VARIANTS, BARE, BETTER_AUTH, BETTER_AUTH_ARGON, BETTER_AUTH_REFRESH].find((x) => x.key === key)!;
      const path = m === "refresh" ? t.paths.refresh : m === "forward" ? t.paths.forward : t.paths[m as "me" | "login" | "signup"];
      L.push(
        `| ${key} | ${MEASURE_TEXT[m]!.split(" (")[0]} \`${path}\` @${(cfg.conn as Record<string, number>)[m]} | ${fmtInt(median(xs.map((s) => s.rps)))} | ${xs.map((s) => fmtInt(s.rps)).join(" / ")} | ` +
          `${fmtMs(median(xs.map((s) => s.p50_ms)))} | ${fmtMs(median(xs.map((s) => s.p99_ms)))} | ${xs.reduce((a, s) => a + s.non2xx, 0)}${xs.some((s) => s.lost) ? ` (chain lost ${xs.reduce((a, s) => a + s.lost, 0)})` : ""} | ` +
          `${xs.reduce((a, s) => a + s.socket_errors, 0)} | ${Math.max(...xs.map((s) => s.peak_rss_mib)).toFixed(0)} MiB | ${Number.isFinite(median(xs.map(cpuOf))) ? `${median(xs.map(cpuOf)).toFixed(1)} µs` : "—"} |`,
      );
    }
  }
  L.push("");
  const life = Object.entries(results.lifetime_peak_rss_mib);
  if (life.length) L.push(`Peak RSS over each server's whole life in this run (VmHWM at exit): ${life.map(([k, v]) => `${k} ${v.toFixed(0)} MiB`).join(", ")}.`, "");

  if (Object.keys(results.burst).length) {
    L.push("## Login burst", "");
    L.push("| server | answers by status | socket errors / timeouts | login p50 / p99 | peak RSS | /healthz p50 / p99 (polls) |", "|---|---|---|---|---|---|");
    for (const [k, b] of Object.entries(results.burst)) {
      L.push(
        `| ${k} | ${fmtStatuses(b.statuses)} | ${b.login.socket_errors} | ${fmtMs(b.login.p50_ms)} / ${fmtMs(b.login.p99_ms)} | ${b.peak_rss_mib.toFixed(0)} MiB | ${fmtMs(b.healthz.p50_ms)} / ${fmtMs(b.healthz.p99_ms)} (${b.healthz.requests}) |`,
      );
    }
    L.push("");
  }
  if (Object.keys(results.cold).length || Object.keys(results.idle).length) {
    L.push("## Cold start and idle memory", "");
    L.push(
      "Cold start: spawn → first `/healthz` 200 and → first `/readyz` 200 (every project loaded), polled back to back; median of the runs. " +
        "A fresh data dir unless marked (restart): then a first boot created the databases and the second boot is timed.",
      "",
    );
    L.push("| server | projects | /healthz median | runs | /readyz median | idle RSS |", "|---|---|---|---|---|---|");
    for (const [k, byN] of Object.entries(results.cold)) {
      for (const [n, xs] of Object.entries(byN)) {
        const ready = xs.readyz.length ? fmtMs(median(xs.readyz)) : "";
        L.push(`| ${k} | ${n} | ${fmtMs(median(xs.healthz))} | ${xs.healthz.map(fmtMs).join(", ")} | ${ready} | ${n === "1" && results.idle[k] ? `${results.idle[k]!.mib.toFixed(1)} MiB` : ""} |`);
      }
    }
    for (const [k, v] of Object.entries(results.idle)) {
      if (!results.cold[k]) L.push(`| ${k} | 1 | | | | ${v.mib.toFixed(1)} MiB |`);
    }
    L.push("");
  }
  if (results.failures.length) {
    L.push("## Failures", "", ...results.failures.map((f) => "- " + f.split("\n")[0]), "");
  }
  L.push("## What the references do", "");
  L.push(
    "- **bare** (`bench/bare.ts`): Bun.serve with nothing else. `/me` verifies an HS256 JWT (alg header, signature, exp, aud, iss) and reads the user by primary key; " +
      "`/login` reads the user by email, verifies one argon2id hash (m=19456 KiB, t=2, p=1) and signs a JWT; `/signup` hashes (outside the transaction), inserts the user and its first refresh token in one transaction and signs a JWT; " +
      "`/refresh` rotates: one indexed select + update + insert in a transaction, then signs a JWT. bun:sqlite, WAL, synchronous=FULL.",
  );
  L.push(
    "- **better-auth** (`bench/better-auth-server.ts`): better-auth " + mach.better_auth + " on Bun.serve, bun:sqlite (WAL, synchronous=FULL), email/password, bearer plugin, rate limiter off; " +
      "`better-auth` uses its default scrypt, `better-auth-argon2id` hashes with argon2id at Latchkey's parameters through `emailAndPassword.password.{hash,verify}`.",
  );
  L.push(
    "- **better-auth's closest write path to a refresh** (`better-auth-refresh`): better-auth has no refresh tokens and never rotates a session token. Its own way to extend a session is the " +
      "session refresh inside get-session (sliding expiry): with `session.updateAge: 0` every `GET /api/auth/get-session` with a bearer token reads the session and user and rewrites the session row's expiry " +
      "(one indexed select + one update, fsync'd), and returns the session. That is the only write better-auth does on presenting a session credential without hashing a password " +
      "(sign-in also writes a session but is bound by the password hash, and update-user writes user data, not session state). It does less per request than Latchkey's refresh (no insert, no new token, no reuse detection), so the comparison leans in better-auth's favour.",
  );
  L.push(
    "- **refresh load**: Latchkey and bare refresh tokens are single-use, so each wrk connection presents a never-used token: the queue in `bench/wrk.lua` is seeded from " +
      `${cfg.conn.refresh + 16} fresh signups before each run and every 200 answer's \`refresh_token\` goes back into it. "chain lost" counts answers that returned no successor.`,
  );
  L.push("");
  return L.join("\n");
}

await main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    cleanupAndExit(1);
  },
);
