/**
 * Primary-key lookups spread over a large project database, in-process (`bun bench/lookups.ts`):
 * what `/auth/me` pays in SQLite for one session and one user when the users are many and
 * different. A users table and a sessions table shaped like Latchkey's are seeded with N rows,
 * then random lookups run on a connection with the project pragmas (2 MiB page cache), with and
 * without the memory map (`mmap_size`), interleaved and repeated so that the machine's load falls
 * on both alike.
 *
 *   LOOKUP_USERS=1000,1000000 (default)   LOOKUP_ROUNDS=4   LOOKUP_COUNT=200000
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_CACHE_KIB, PROJECT_MMAP_BYTES } from "../src/storage/sqlite/open.ts";

const USERS = (process.env.LOOKUP_USERS ?? "1000,1000000").split(",").map(Number);
const ROUNDS = Number(process.env.LOOKUP_ROUNDS ?? 4);
const COUNT = Number(process.env.LOOKUP_COUNT ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), "latchkey-lookups-"));
const uuid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
const load = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

function seed(path: string, n: number): void {
  const db = new Database(path);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF");
  db.exec(`CREATE TABLE users(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT, _email_canonical TEXT, email_verified INTEGER,
    created_at TEXT, updated_at TEXT, _password_version INTEGER, display_name TEXT)`);
  db.exec("CREATE TABLE _sessions(id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), created_at INTEGER, last_used_at INTEGER, ended_at INTEGER)");
  const hash = "$argon2id$v=19$m=19456,t=2,p=1$" + "x".repeat(22) + "$" + "y".repeat(43);
  const u = db.prepare("INSERT INTO users VALUES (?, ?, ?, ?, 0, ?, ?, 1, ?)");
  const s = db.prepare("INSERT INTO _sessions VALUES (?, ?, ?, ?, NULL)");
  const now = new Date().toISOString();
  for (let start = 0; start < n; start += 50_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + 50_000); i++) {
        u.run(uuid(i), `user${i}@seed.example`, hash, `user${i}@seed.example`, now, now, `User ${i}`);
        s.run(`s-${uuid(i)}`, uuid(i), Date.now(), Date.now());
      }
    })();
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}

/** Microseconds per /auth/me-like lookup (one session, then its user), random users. */
function measure(path: string, n: number, mmap: number): number {
  const db = new Database(path);
  db.exec(`PRAGMA cache_size=-${PROJECT_CACHE_KIB}; PRAGMA mmap_size=${mmap}`);
  const session = db.query("SELECT user_id, ended_at FROM _sessions WHERE id = ?");
  const user = db.query("SELECT * FROM users WHERE id = ?");
  // Warm-up: the same number of lookups first (the page cache and the mapping fill).
  const run = (count: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const k = uuid(Math.floor(Math.random() * n));
      const s = session.get(`s-${k}`) as { user_id: string } | null;
      if (!s || !user.get(s.user_id)) throw new Error("missing row");
    }
    return ((performance.now() - t0) * 1000) / count;
  };
  run(Math.min(COUNT, 50_000));
  const us = run(COUNT);
  session.finalize();
  user.finalize();
  db.close();
  return us;
}

console.log(`lookups: ${new Date().toISOString()}, load ${load()}, ${COUNT} lookups per measure, ${ROUNDS} rounds, cache ${PROJECT_CACHE_KIB} KiB`);
const results = new Map<string, number[]>();
for (const n of USERS) {
  const path = join(dir, `u${n}.db`);
  seed(path, n);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, mmap] of (r % 2 === 0 ? [["mmap 0", 0], [`mmap ${PROJECT_MMAP_BYTES / 2 ** 20} MiB`, PROJECT_MMAP_BYTES]] : [[`mmap ${PROJECT_MMAP_BYTES / 2 ** 20} MiB`, PROJECT_MMAP_BYTES], ["mmap 0", 0]]) as [string, number][]) {
      const us = measure(path, n, mmap);
      const key = `${n}|${label}`;
      results.set(key, [...(results.get(key) ?? []), us]);
      console.log(`${n} users, ${label}: ${us.toFixed(2)} µs per lookup (round ${r + 1}, load ${load()})`);
    }
  }
  rmSync(path, { force: true });
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
}
console.log("\n| users | memory map | µs per lookup (median of rounds) | all rounds |\n|---:|---|---:|---|");
for (const [key, xs] of results) {
  const [n, label] = key.split("|");
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  console.log(`| ${Number(n).toLocaleString("en-US")} | ${label} | ${med.toFixed(2)} | ${xs.map((x) => x.toFixed(1)).join(", ")} |`);
}
console.log(`load at end ${load()}`);
rmSync(dir, { recursive: true, force: true });
