/**
 * How long a commit holds the event loop during a large clean-up, with SQLite's automatic WAL
 * checkpoint on the serving connection ("before") and with the checkpoint thread
 * (src/storage/sqlite/checkpointer.ts, "after"), in-process (`bun bench/commit-stalls.ts`).
 *
 * A project database (real pragmas: WAL, synchronous=FULL) is seeded with N expired tokens; then
 * for DURATION seconds a clean-up deletes them in windows (one IMMEDIATE transaction each, a pause
 * as long as the last one took, as housekeeping does) while a signup-like transaction (an insert
 * into an indexed table) commits every 5 ms. Every transaction's wall time on this thread is
 * recorded. The two variants run on copies of the same seeded file, alternately, ROUNDS times.
 *
 *   STALL_ROWS=300000  STALL_SECONDS=20  STALL_ROUNDS=2
 */
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeProjectDb, openProjectDb } from "../src/storage/sqlite/open.ts";
import { unwatchCheckpoints, watchCheckpoints } from "../src/storage/sqlite/checkpointer.ts";

const ROWS = Number(process.env.STALL_ROWS ?? 300_000);
const SECONDS = Number(process.env.STALL_SECONDS ?? 20);
const ROUNDS = Number(process.env.STALL_ROUNDS ?? 2);
const dir = mkdtempSync(join(tmpdir(), "latchkey-stalls-"));
const load = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const nowIso = new Date().toISOString();

const seedPath = join(dir, "seed.db");
{
  const db = openProjectDb(seedPath, { projectId: "bench", nowIso });
  db.exec("CREATE TABLE tokens(id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, session_id TEXT, expires_at INTEGER)");
  db.exec("CREATE TABLE accounts(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, created_at TEXT)");
  const ins = db.prepare("INSERT INTO tokens(token_hash, session_id, expires_at) VALUES (?, ?, ?)");
  for (let start = 0; start < ROWS; start += 50_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(ROWS, start + 50_000); i++) ins.run(new Bun.CryptoHasher("sha256").update(String(i)).digest("hex"), `s-${i}`, 1);
    })();
  }
  ins.finalize();
  closeProjectDb(db);
}

interface Result {
  txns: number[];
  deleted: number;
}

async function run(variant: "before" | "after", round: number): Promise<Result> {
  const path = join(dir, `${variant}-${round}.db`);
  copyFileSync(seedPath, path);
  const db = openProjectDb(path, { projectId: "bench", nowIso, alreadyChecked: true });
  if (variant === "after") watchCheckpoints(db, path, { warn: console.warn, error: console.error });
  const txns: number[] = [];
  const timed = (fn: () => void): number => {
    const t0 = performance.now();
    fn();
    const ms = performance.now() - t0;
    txns.push(ms);
    return ms;
  };
  const del = db.prepare("DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE id > ? AND expires_at < 2 ORDER BY id LIMIT ?) RETURNING id");
  const signup = db.prepare("INSERT INTO accounts(id, email, created_at) VALUES (?, ?, ?)");
  const until = performance.now() + SECONDS * 1000;
  let deleted = 0;
  let stop = false;
  const cleanup = (async () => {
    let after = 0;
    let window = 128;
    while (!stop && performance.now() < until) {
      let last = after;
      let n = 0;
      const ms = timed(() =>
        db.transaction(() => {
          for (const r of del.all(after, window) as { id: number }[]) {
            last = Math.max(last, r.id);
            n++;
          }
        }).immediate(),
      );
      deleted += n;
      if (n === 0) break;
      after = last;
      if (ms > 8) window = Math.max(16, window >> 1);
      else if (ms < 2) window = Math.min(1_000, window * 2);
      await Bun.sleep(Math.max(1, Math.ceil(ms)));
    }
  })();
  let i = 0;
  while (performance.now() < until) {
    timed(() => db.transaction(() => signup.run(`${variant}-${round}-${i}`, `u${i++}@example.com`, nowIso)).immediate());
    await Bun.sleep(5);
  }
  stop = true;
  await cleanup;
  del.finalize();
  signup.finalize();
  if (variant === "after") await unwatchCheckpoints(db);
  closeProjectDb(db);
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
  return { txns, deleted };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};
console.log(`commit stalls: ${new Date().toISOString()}, ${ROWS} expired rows, ${SECONDS} s per run, load ${load()}`);
console.log("\n| variant | round | transactions | rows deleted | p50 | p99 | max | over 50 ms | load avg (1 min) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (let r = 1; r <= ROUNDS; r++) {
  for (const v of (r % 2 ? ["before", "after"] : ["after", "before"]) as ("before" | "after")[]) {
    const { txns, deleted } = await run(v, r);
    console.log(
      `| ${v} | ${r} | ${txns.length} | ${deleted.toLocaleString("en-US")} | ${pct(txns, 0.5).toFixed(1)} ms | ${pct(txns, 0.99).toFixed(1)} ms | ${Math.max(...txns).toFixed(1)} ms | ${txns.filter((x) => x > 50).length} | ${load().split(" ")[0]} |`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });
