/**
 * Where a write's time goes while housekeeping deletes a large backlog, in-process
 * (`bun bench/housekeeping-stalls.ts`). A project database (the real open path: WAL,
 * synchronous=FULL, the checkpoint thread) is seeded with N expired sessions and N expired refresh
 * tokens; then the product's clean-up (`pruneSessionsInBatches`, the real window pruners and their
 * pacing) runs while a signup-like transaction (a user row, a session, a refresh token, one
 * IMMEDIATE transaction with synchronous=FULL) is due every 5 ms.
 *
 * Recorded, all on the serving thread's clock:
 * - every housekeeping window: its statement time and its COMMIT time (the event loop is held for
 *   both), the WAL frames it wrote (read from the -shm index header);
 * - every signup: when it was due, when it started (the wait is the event loop being held by
 *   something else), its statement and COMMIT times (the COMMIT's fsync of the WAL);
 * - the checkpoint thread's checkpoints (when they ended, how long they took, frames copied);
 * - event-loop gaps seen by a 10 ms timer, minus the windows and signups inside them (what is
 *   left is GC or the machine's scheduler);
 * and, for every signup over 50 ms, what overlapped it.
 *
 *   HK_ROWS=1000000 HK_SECONDS=60 HK_ROUNDS=1 HK_DETAIL=20
 *
 * Prints one Markdown line per run: the longest time one housekeeping window held the event loop,
 * the longest signup (from when it was due to its commit), its p99 and how many took over 50 ms.
 */
import { Database } from "bun:sqlite";
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeProjectDb, openProjectDb } from "../src/storage/sqlite/open.ts";
import { drainWal, onCheckpoint, unwatchCheckpoints, watchCheckpoints } from "../src/storage/sqlite/checkpointer.ts";
import { pruneCommits, sessionPruners } from "../src/storage/sqlite/prune-window.ts";
import { pruneSessionsInBatches } from "../src/projects/housekeeping.ts";
import type { ProjectRuntime } from "../src/projects/runtime.ts";
import type { PruneSet } from "../src/storage/housekeeping.ts";

const ROWS = Number(process.env.HK_ROWS ?? 1_000_000);
const SECONDS = Number(process.env.HK_SECONDS ?? 60);
const ROUNDS = Number(process.env.HK_ROUNDS ?? 1);
const DETAIL = Number(process.env.HK_DETAIL ?? 20);
/** Pacing variants to compare in alternating rounds, e.g. "f1nc,f4b4" (pause factor, budget ms, batch rows; nc = no congestion backoff, S = windows commit with their own fsync, ns = no WAL settling); "product" = the defaults, "none" = no clean-up. */
const VARIANTS = (process.env.HK_VARIANTS ?? "product").split(",");
function knobs(v: string): { pauseFactor?: number; budgetMs?: number; batchRows?: number; congestionBackoff?: boolean } {
  if (v === "product") return {};
  const num = (c: string): number | undefined => {
    const m = new RegExp(`${c}([0-9.]+)`).exec(v);
    return m ? Number(m[1]) : undefined;
  };
  return { pauseFactor: num("f"), budgetMs: num("b"), batchRows: num("w"), congestionBackoff: !v.includes("nc") };
}
const dir = mkdtempSync(join(tmpdir(), "latchkey-hk-stalls-"));
const load = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const nowIso = new Date().toISOString();
const NOW = Date.now();
const OLD = NOW - 60 * 86_400_000;

const seedPath = join(dir, "seed.db");
{
  const t0 = performance.now();
  const db = openProjectDb(seedPath, { projectId: "bench", nowIso });
  db.exec("CREATE TABLE bench_users(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, created_at INTEGER) STRICT");
  db.exec("PRAGMA synchronous=OFF");
  const s = db.prepare("INSERT INTO _sessions(id, user_id, created_at, last_used_at) VALUES (?, ?, ?, ?)");
  const t = db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
  for (let start = 0; start < ROWS; start += 50_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(ROWS, start + 50_000); i++) {
        s.run(`seed-${i}`, "seed-user", OLD, OLD);
        t.run(new Bun.CryptoHasher("sha256").update(String(i)).digest("hex"), `seed-${i}`, OLD, OLD + 30 * 86_400_000);
      }
    })();
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  closeProjectDb(db);
  Bun.spawnSync(["sync"]);
  console.error(`seeded ${ROWS} sessions and tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

interface Window {
  at: number;
  set: string;
  rows: number;
  statementMs: number;
  commitMs: number;
  frames: number;
}
interface Signup {
  due: number;
  start: number;
  commitStart: number;
  end: number;
  frames: number;
}

/** mxFrame of the WAL index header (the -shm file), as the connection's last commit left it. */
function walFrames(fd: number): number {
  const b = Buffer.alloc(4);
  readSync(fd, b, 0, 4, 16);
  return b.readUInt32LE(0);
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "—");

async function run(round: number, variant: string): Promise<string> {
  const path = join(dir, `run-${variant}-${round}.db`);
  copyFileSync(seedPath, path);
  const db = openProjectDb(path, { projectId: "bench", nowIso, alreadyChecked: true });
  watchCheckpoints(db, path, { warn: console.warn, error: console.error });
  db.query("SELECT count(*) FROM bench_users").get(); // the -shm exists from here on
  const shm = openSync(`${path}-shm`, "r");
  const t0 = performance.now();
  const windows: Window[] = [];
  const signups: Signup[] = [];
  const checkpoints: { end: number; ms: number; copied: number; frames: number }[] = [];
  const gaps: { start: number; end: number }[] = [];
  const offCheckpoint = onCheckpoint((e) => checkpoints.push({ end: performance.now() - t0, ms: e.ms, copied: e.copied, frames: e.frames }));

  // The product's pacing over the real pruners, with each window's timing recorded.
  pruneCommits.fsync = variant.includes("S");
  const pruners = sessionPruners(db);
  const byset: Record<PruneSet, ReturnType<typeof sessionPruners>["expiredTokens"]> = {
    expiredRefreshTokens: pruners.expiredTokens,
    endedSessions: pruners.endedSessions,
    orphanRefreshTokens: pruners.orphanTokens,
    rotatedRecords: pruners.rotated,
    unverifiedMarks: pruners.unverifiedMarks,
  };
  const params = (set: PruneSet, c: { nowMs: number; endedBeforeMs: number; idleBeforeMs: number }): number[] =>
    set === "endedSessions" ? [c.endedBeforeMs, c.idleBeforeMs] : set === "expiredRefreshTokens" || set === "rotatedRecords" ? [c.nowMs] : [];
  let stop = false;
  const p = {
    config: { auth: { accessTokenTtlSeconds: 900 } },
    store: {
      housekeeping: {
        // "ns": no settling (the WAL is checkpointed on the thread's one-second tick only, as before).
        settle: () => (variant.includes("ns") ? Promise.resolve() : drainWal(db)),
        pruneWindow: async (set: PruneSet, after: string, w: number, c: { nowMs: number; endedBeforeMs: number; idleBeforeMs: number }) => {
          const before = walFrames(shm);
          const at = performance.now() - t0;
          const step = byset[set](after, w, params(set, c));
          if (step) windows.push({ at, set, rows: step.examined, statementMs: step.statementMs, commitMs: step.commitMs, frames: walFrames(shm) - before });
          return step && { last: step.last, examined: step.examined, deleted: step.deleted };
        },
      },
    },
  } as unknown as ProjectRuntime;
  let doneAt = NaN;
  // "none": no clean-up at all, what the signups see from the machine alone.
  const cleanup =
    variant === "none"
      ? Promise.resolve()
      : pruneSessionsInBatches(p, NOW, { shouldStop: () => stop, ...knobs(variant) }).then(() => {
          if (!stop) doneAt = performance.now() - t0;
        });

  let lastTick = performance.now();
  const lag = setInterval(() => {
    const now = performance.now();
    if (now - lastTick > 30) gaps.push({ start: lastTick - t0, end: now - t0 });
    lastTick = now;
  }, 10);

  const ins = [
    db.prepare("INSERT INTO bench_users(id, email, created_at) VALUES (?1, ?2, ?3)"),
    db.prepare("INSERT INTO _sessions(id, user_id, created_at, last_used_at) VALUES (?1, ?1, ?3, ?3)"),
    db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?2, ?1, ?3, ?3 + 86400000)"),
  ];
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  let i = 0;
  const until = t0 + SECONDS * 1000;
  while (performance.now() < until && Number.isNaN(doneAt)) {
    const due = performance.now() + 5;
    await Bun.sleep(5);
    const start = performance.now();
    const before = walFrames(shm);
    begin.run();
    const id = `r${round}-${i++}`;
    for (const s of ins) s.run(id, `${id}@example.com`, Date.now());
    const commitStart = performance.now();
    commit.run();
    const end = performance.now();
    signups.push({ due: due - t0, start: start - t0, commitStart: commitStart - t0, end: end - t0, frames: walFrames(shm) - before });
  }
  stop = true;
  await cleanup;
  clearInterval(lag);
  offCheckpoint();
  for (const s of ins) s.finalize();
  begin.finalize();
  commit.finalize();
  const left = (db.query("SELECT count(*) AS n FROM _refresh_tokens WHERE expires_at < ?").get(NOW) as { n: number }).n;
  const deleted = windows.reduce((a, w) => a + w.rows, 0);
  await unwatchCheckpoints(db);
  closeProjectDb(db);
  closeSync(shm); // after the connection: closing a descriptor drops the process's POSIX locks on the file
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });

  // Report.
  const held = windows.map((w) => w.statementMs + w.commitMs);
  const lat = signups.map((s) => s.end - s.due);
  console.log(`\nround ${round}, ${variant}: ${windows.length} windows, ${signups.length} signups, load ${load()}`);
  console.log(
    `windows: held p50 ${f1(pct(held, 0.5))} / p99 ${f1(pct(held, 0.99))} / max ${f1(Math.max(...held))} ms; statement max ${f1(Math.max(...windows.map((w) => w.statementMs)))}, commit max ${f1(Math.max(...windows.map((w) => w.commitMs)))} ms; rows p50 ${pct(windows.map((w) => w.rows), 0.5)}; frames per window p50 ${pct(windows.map((w) => w.frames), 0.5)} / max ${Math.max(...windows.map((w) => w.frames))}`,
  );
  console.log(
    `signups: latency p50 ${f1(pct(lat, 0.5))} / p99 ${f1(pct(lat, 0.99))} / max ${f1(Math.max(...lat))} ms; commit p50 ${f1(pct(signups.map((s) => s.end - s.commitStart), 0.5))} / max ${f1(Math.max(...signups.map((s) => s.end - s.commitStart)))} ms; own frames p50 ${pct(signups.map((s) => s.frames), 0.5)}`,
  );
  console.log(`checkpoints: ${checkpoints.length}, ms p50 ${f1(pct(checkpoints.map((c) => c.ms), 0.5))} / max ${f1(Math.max(...checkpoints.map((c) => c.ms)))}; event-loop gaps over 30 ms: ${gaps.length}`);
  const slow = signups.filter((s) => s.end - s.due > 50).sort((a, b) => b.end - b.due - (a.end - a.due));
  for (const s of slow.slice(0, DETAIL)) {
    const inWait = windows.filter((w) => w.at + w.statementMs + w.commitMs > s.due && w.at < s.start);
    const ckpt = checkpoints.filter((c) => c.end > s.due && c.end - c.ms < s.end);
    const framesSince = windows.filter((w) => w.at < s.start && w.at > s.start - 1000).reduce((a, w) => a + w.frames, 0);
    const gap = gaps.filter((g) => g.end > s.due && g.start < s.end);
    const residual = gap.reduce((a, g) => a + (Math.min(g.end, s.end) - Math.max(g.start, s.due)), 0) - inWait.reduce((a, w) => a + w.statementMs + w.commitMs, 0) - (s.end - s.start);
    console.log(
      `  slow signup at ${(s.due / 1000).toFixed(2)} s: ${f1(s.end - s.due)} ms = wait ${f1(s.start - s.due)} (windows in it: ${inWait.map((w) => `${w.set} ${w.rows} rows ${f1(w.statementMs)}+${f1(w.commitMs)} ms ${w.frames} fr`).join("; ") || "none"}) + statements ${f1(s.commitStart - s.start)} + commit ${f1(s.end - s.commitStart)} (${s.frames} fr); frames by windows in the second before: ${framesSince}; checkpoints overlapping: ${ckpt.map((c) => `${f1(c.ms)} ms, ${c.copied} fr`).join("; ") || "none"}; loop gap not explained by windows or itself: ${f1(Math.max(0, residual))} ms`,
    );
  }
  return `| ${variant} | ${round} | ${windows.length.toLocaleString("en-US")} | ${f1(Math.max(...held))} ms | ${signups.length.toLocaleString("en-US")} | ${f1(pct(lat, 0.5))} / ${f1(pct(lat, 0.99))} / ${f1(Math.max(...lat))} ms | ${slow.length} | ${Number.isNaN(doneAt) ? `${left.toLocaleString("en-US")} tokens left after ${SECONDS} s (${Math.round(deleted / SECONDS).toLocaleString("en-US")} rows looked at per s)` : `done in ${(doneAt / 1000).toFixed(1)} s`} | ${load().split(" ")[0]} |`;
}

console.log(`housekeeping stalls: ${new Date().toISOString()}, ${ROWS.toLocaleString("en-US")} expired sessions and refresh tokens, at most ${SECONDS} s per run, load ${load()}`);
const lines: string[] = [];
for (let r = 1; r <= ROUNDS; r++) for (const v of r % 2 ? VARIANTS : [...VARIANTS].reverse()) lines.push(await run(r, v));
console.log(
  "\n| variant | round | windows | longest window (event loop held) | signups | signup p50 / p99 / max | over 50 ms | clean-up | load avg (1 min) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|",
);
for (const l of lines) console.log(l);
rmSync(dir, { recursive: true, force: true });
