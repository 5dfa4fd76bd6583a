/**
 * PostgreSQL and replicas (SPEC 15): `/auth/me`, refresh and login on SQLite (one process), on
 * PostgreSQL with one replica and with two replicas behind a round-robin front, in one run on one
 * machine, through bench/wrk.lua. Writes the section "PostgreSQL and replicas" of bench/RESULTS.md
 * (replacing an earlier one) and raw JSON in bench/out/replicas-latest.json.
 *
 *   bun bench/replicas.ts            (BENCH_DATABASE_URL = an admin URL of a server to use, or a
 *                                     durable throwaway PostgreSQL is started with .ci/postgres.sh)
 *
 * The front is a tiny Bun proxy in this process (round-robin per request, no sticky sessions);
 * servers run from source (`bun src/main.ts serve`) with the bench's real hash parameters.
 * BENCH_DURATION (s, default 10) per measure.
 */
import { SQL } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const MAIN = join(ROOT, "src/main.ts");
const WRK = join(import.meta.dir, "wrk.lua");
const OUT = join(import.meta.dir, "out");
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const SERVER_KEY = Buffer.alloc(32, 9).toString("base64");
const PASSWORD = "correct horse battery staple";
const USERS = 64;

const PROJECT = `id: bench
keys: { admin: "sk_${"B".repeat(43)}" }
tables:
  users:
    auth_table: true
    columns: {}
auth:
  hasher: { algorithm: argon2id, options: { memory_cost: 19456, time_cost: 2 } }
  rate_limits:
    login_failures_per_account: off
    login_per_ip: off
    signup_per_ip: off
    forgot_password_per_ip: off
    link_per_ip: off
    admin_key_failures_per_ip: off
    refresh_per_session: off
`;

interface Server {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
}

async function startServer(args: string[], env: Record<string, string>): Promise<Server> {
  const proc = Bun.spawn([process.execPath, MAIN, "serve", ...args, "--host", "127.0.0.1", "--port", "0", "--public-url", "http://127.0.0.1:9", "--log-level", "warn"], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
    const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
    if (m) {
      void (async () => {
        for (;;) if ((await reader.read()).done) return;
      })();
      const url = m[1]!;
      while ((await fetch(`${url}/readyz`)).status !== 200) await Bun.sleep(50);
      return { proc, url };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`server did not start: ${out}\n${await new Response(proc.stderr).text()}`);
}

/** A round-robin front: each request to the next upstream. */
function roundRobin(upstreams: string[]): { url: string; stop(): void } {
  let i = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const target = upstreams[i++ % upstreams.length]! + u.pathname + u.search;
      return await fetch(target, { method: req.method, headers: req.headers, body: req.body, redirect: "manual" });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

async function wrk(base: string, path: string, connections: number, args: Record<string, string>): Promise<{ ok: number; rps: number; p50: number; p99: number; other: number }> {
  const threads = Math.min(2, connections);
  const cmd = ["wrk", "-t", String(threads), "-c", String(connections), "-d", `${DURATION}s`, "--timeout", "10s", "-s", WRK, base + path, "--",
    ...Object.entries({ ...args, path, threads: String(threads), count: "1" }).map(([k, v]) => `${k}=${v}`)];
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const line = out.split("\n").find((l) => l.startsWith("BENCHJSON "));
  if (!line) throw new Error(`wrk failed: ${cmd.join(" ")}\n${out}${await new Response(proc.stderr).text()}`);
  const raw = JSON.parse(line.slice(10)) as { duration_us: number; statuses: Record<string, number>; latency_us: { p50: number; p99: number } };
  const ok = Object.entries(raw.statuses).filter(([k]) => k.startsWith("2")).reduce((n, [, v]) => n + v, 0);
  const all = Object.values(raw.statuses).reduce((n, v) => n + v, 0);
  return { ok, rps: ok / (raw.duration_us / 1e6), p50: raw.latency_us.p50 / 1000, p99: raw.latency_us.p99 / 1000, other: all - ok };
}

async function seed(base: string, dir: string, tag: string): Promise<{ tokens: string; refresh: string; logins: string }> {
  const tokens: string[] = [];
  const refresh: string[] = [];
  const logins: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const email = `${tag}-${i}@bench.test`;
    const r = await fetch(`${base}/p/bench/auth/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password: PASSWORD }) });
    const body = (await r.json()) as { data: { token: string; refresh_token: string } };
    if (r.status !== 201) throw new Error(`signup ${r.status}: ${JSON.stringify(body)}`);
    tokens.push(body.data.token);
    refresh.push(body.data.refresh_token);
    logins.push(JSON.stringify({ email, password: PASSWORD }));
  }
  const f = (name: string, lines: string[]): string => {
    const p = join(dir, `${tag}-${name}.txt`);
    writeFileSync(p, lines.join("\n") + "\n");
    return p;
  };
  return { tokens: f("tokens", tokens), refresh: f("refresh", refresh), logins: f("logins", logins) };
}

async function adminUrl(): Promise<{ url: string; stop(): void }> {
  const given = process.env.BENCH_DATABASE_URL;
  if (given) return { url: given, stop() {} };
  // A cluster of its own with PostgreSQL's durable defaults (not the tests' fsync-off one).
  const dir = mkdtempSync(join(tmpdir(), "latchkey-bench-pg-"));
  const started = Bun.spawnSync(["bash", join(ROOT, ".ci/postgres.sh"), "start", dir, "durable"], { stdout: "pipe", stderr: "pipe" });
  if (started.exitCode !== 0) throw new Error(`could not start PostgreSQL: ${started.stderr.toString()}`);
  return {
    url: started.stdout.toString().trim(),
    stop() {
      Bun.spawnSync(["bash", join(ROOT, ".ci/postgres.sh"), "stop", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Row = { target: string; measure: string; rps: number; p50: number; p99: number; other: number };

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "latchkey-bench-replicas-"));
  writeFileSync(join(work, "bench.yaml"), PROJECT);
  const loadBefore = loadavg();
  const pg = await adminUrl();
  const admin = new SQL(pg.url, { max: 1 });
  await admin.unsafe(`CREATE DATABASE lk_bench_replicas`);
  await admin.close();
  const dbUrl = new URL(pg.url);
  dbUrl.pathname = "/lk_bench_replicas";
  const rows: Row[] = [];
  const cleanup: (() => void)[] = [];
  try {
    const targets: { name: string; start(): Promise<string> }[] = [
      {
        name: "SQLite, 1 process",
        start: async () => {
          const s = await startServer(["--config", join(work, "bench.yaml"), "--data", join(work, "data-sqlite")], {});
          cleanup.push(() => s.proc.kill("SIGKILL"));
          return s.url;
        },
      },
      {
        name: "PostgreSQL, 1 replica",
        start: async () => {
          const s = await startServer(["--config", join(work, "bench.yaml"), "--data", join(work, "data-pg1"), "--database", dbUrl.href], { LATCHKEY_SERVER_KEY: SERVER_KEY });
          cleanup.push(() => s.proc.kill("SIGKILL"));
          return s.url;
        },
      },
      {
        name: "PostgreSQL, 2 replicas + Bun round-robin front",
        start: async () => {
          const a = await startServer(["--config", join(work, "bench.yaml"), "--data", join(work, "data-pg2a"), "--database", dbUrl.href], { LATCHKEY_SERVER_KEY: SERVER_KEY });
          const b = await startServer(["--config", join(work, "bench.yaml"), "--data", join(work, "data-pg2b"), "--database", dbUrl.href], { LATCHKEY_SERVER_KEY: SERVER_KEY });
          const front = roundRobin([a.url, b.url]);
          cleanup.push(() => a.proc.kill("SIGKILL"), () => b.proc.kill("SIGKILL"), () => front.stop());
          return front.url;
        },
      },
    ];
    for (const [i, t] of targets.entries()) {
      const base = await t.start();
      const files = await seed(base, work, `t${i}`);
      const measures: [string, string, number, Record<string, string>][] = [
        ["GET /auth/me", "/p/bench/auth/me", 32, { mode: "get", file: files.tokens }],
        ["POST /auth/refresh", "/p/bench/auth/refresh", 32, { mode: "refresh", file: files.refresh, json: "1" }],
        ["POST /auth/login", "/p/bench/auth/login", 16, { mode: "post", file: files.logins, json: "1" }],
      ];
      for (const [measure, path, conns, args] of measures) {
        const r = await wrk(base, path, conns, args);
        rows.push({ target: t.name, measure, rps: r.rps, p50: r.p50, p99: r.p99, other: r.other });
        console.log(`${t.name} | ${measure}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, non-2xx ${r.other}`);
      }
      for (const c of cleanup.splice(0)) c();
      await Bun.sleep(500);
    }
  } finally {
    for (const c of cleanup) c();
    const again = new SQL(pg.url, { max: 1 });
    await again.unsafe(`DROP DATABASE IF EXISTS lk_bench_replicas WITH (FORCE)`).catch(() => undefined);
    await again.close();
    pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  writeFileSync(join(OUT, "replicas-latest.json"), JSON.stringify({ date: new Date().toISOString(), durationS: DURATION, loadBefore, loadAfter, rows }, null, 2));
  const fmt = (n: number, d = 0): string => n.toFixed(d);
  const table = [
    "| target | measure | req/s (2xx) | p50 ms | p99 ms | non-2xx |",
    "|---|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.target} | ${r.measure} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.other} |`),
  ].join("\n");
  const section = `## PostgreSQL and replicas

Run \`bun bench/replicas.ts\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores, load average ${loadBefore.map((x) => x.toFixed(2)).join(" / ")} before and ${loadAfter.map((x) => x.toFixed(2)).join(" / ")} after
(1/5/15 min; compare the rows of this run with each other only).
Servers from source (\`bun src/main.ts serve\`), one project, rate limits off, argon2id m=19456 t=2;
PostgreSQL ${process.env.BENCH_DATABASE_URL ? "is the server given in BENCH_DATABASE_URL" : "is a cluster of .ci/postgres.sh started for the bench on the same machine with PostgreSQL's durable defaults (fsync, synchronous_commit and full_page_writes on, like SQLite's synchronous=FULL)"}, one database for every replica;
${USERS} users seeded per target through signup; wrk through \`bench/wrk.lua\`, ${DURATION} s per measure (me and refresh 32
connections, login 16). The two-replica front is a tiny Bun round-robin proxy in the bench process (no sticky
sessions), so that row also pays for the proxy hop and shares the same 2 cores with both replicas, PostgreSQL and wrk:
on one machine a second replica cannot add CPU, it shows what the shared database and the extra hop cost.

${table}
`;
  const resultsPath = join(import.meta.dir, "RESULTS.md");
  const current = readFileSync(resultsPath, "utf8");
  const start = current.indexOf("## PostgreSQL and replicas");
  let next = start >= 0 ? current.indexOf("\n## ", start + 5) : -1;
  if (next >= 0) next += 1;
  const updated = start >= 0 ? current.slice(0, start) + section + (next >= 0 ? "\n" + current.slice(next) : "") : current.trimEnd() + "\n\n" + section;
  writeFileSync(resultsPath, updated);
  console.log(`\nwrote the section "PostgreSQL and replicas" of bench/RESULTS.md`);
}

await main();
