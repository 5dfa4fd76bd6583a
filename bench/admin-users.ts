/**
 * GET /v1/users with 100,000 users (SPEC 12): p50/p99 of the first page, a deep page (the cursor
 * of user 90,000) and the last page, plus an email-prefix search. Standalone and in-process:
 * users are seeded straight into the project database (one transaction), and requests go through
 * the app's own handler (`app.handle`), so the numbers are the server's work without the network.
 *
 *   bun bench/admin-users.ts            # prints a table and rewrites the block in bench/RESULTS.md
 *
 * Not part of `npm test` or `npm run bench`.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { boot } from "../src/boot.ts";
import { loadProjects, formatConfigIssue } from "../src/config/load.ts";
import { BUILTIN_PLUGINS } from "../plugins/index.ts";
import { createLogger } from "../src/log.ts";
import { encodeCursor } from "../src/http/cursor.ts";

const USERS = 100_000;
const ITERATIONS = 300;
const ADMIN_KEY = "sk_" + "b".repeat(43);

const dir = mkdtempSync(join(tmpdir(), "latchkey-bench-users-"));
const dataDir = join(dir, "data");
const configDir = join(dir, "projects");
mkdirSync(dataDir, { recursive: true });
mkdirSync(configDir, { recursive: true });
writeFileSync(
  join(configDir, "bench.yaml"),
  stringify({
    id: "bench",
    keys: { admin: ADMIN_KEY },
    tables: { users: { auth_table: true, columns: { display_name: "string max_length 80", role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true } } } },
    auth: { rate_limits: { admin_key_failures_per_ip: "off" } },
  }),
);
const { projects: configs, issues } = loadProjects([configDir], { env: {}, registry: BUILTIN_PLUGINS });
if (issues.length) throw new Error(issues.map(formatConfigIssue).join("\n"));
const booted = boot({
  configs, dataDir, publicUrl: "http://127.0.0.1:8080", serverKey: new Uint8Array(32).fill(7),
  registry: BUILTIN_PLUGINS, log: createLogger({ level: "error" }), startMail: false, peerIp: () => "127.0.0.1",
});
const p = booted.projects.get("bench")!;

const seedStart = performance.now();
const insert = p.db.prepare(
  `INSERT INTO users(id, created_at, updated_at, email, _email_canonical, password_hash, display_name) VALUES (?, ?, ?, ?, ?, 'x', ?)`,
);
const base = Date.UTC(2026, 0, 1);
const ids: { id: string; at: string }[] = [];
p.db.transaction(() => {
  for (let i = 0; i < USERS; i++) {
    const id = crypto.randomUUID();
    const at = new Date(base + i * 1000).toISOString();
    insert.run(id, at, at, `user${i}@example.com`, `user${i}@example.com`, `User ${i}`);
    ids.push({ id, at });
  }
})();
p.db.exec("PRAGMA optimize");
const seedMs = performance.now() - seedStart;

async function measure(path: string): Promise<{ p50: number; p99: number; count: number }> {
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i < ITERATIONS + 20; i++) {
    const t0 = performance.now();
    const res = await booted.app.handle(new Request(`http://localhost/p/bench/v1${path}`, { headers: { "x-admin-key": ADMIN_KEY } }));
    const body = (await res.json()) as { data?: { users: unknown[] } };
    const ms = performance.now() - t0;
    if (res.status !== 200 || !body.data) throw new Error(`${path} answered ${res.status}`);
    count = body.data.users.length;
    if (i >= 20) times.push(ms); // the first 20 warm up the statement cache
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)], count };
}

const deep = ids[89_999];
const last = ids[USERS - 51];
const cases: [string, string][] = [
  ["first page (limit 50)", "/users"],
  ["first page (limit 200)", "/users?limit=200"],
  ["deep page: after user 90,000 (limit 50)", `/users?cursor=${encodeURIComponent(encodeCursor(p, "users", [deep.at, deep.id]))}`],
  ["last page (limit 50)", `/users?cursor=${encodeURIComponent(encodeCursor(p, "users", [last.at, last.id]))}`],
  ["email prefix q=user9999 (limit 50)", "/users?q=user9999"],
  ["verified=true, none match (scans every user)", "/users?verified=true"],
];
const rows: string[] = [];
for (const [label, path] of cases) {
  const r = await measure(path);
  rows.push(`| ${label} | ${r.count} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.p50 <= 20 ? "PASS" : "FAIL"} |`);
}
await booted.close();
rmSync(dir, { recursive: true, force: true });

const load = loadavg().map((x) => x.toFixed(2)).join(" ");
const block = [
  "<!-- admin-users:start -->",
  "## GET /v1/users with 100,000 users",
  "",
  `Written by \`bun bench/admin-users.ts\` (${new Date().toISOString()}). ${USERS.toLocaleString("en")} users seeded straight into the`,
  `project database in ${(seedMs / 1000).toFixed(1)} s; ${ITERATIONS} requests per row through the app's handler in-process (no network),`,
  `one at a time, after 20 warm-up requests. Target: p50 ≤ 20 ms for any page.`,
  "",
  `> Machine: ${navigator.hardwareConcurrency} cores, load average ${load} at the end — the machine was shared with other work, so these numbers are noisy.`,
  "",
  "| request | users returned | p50 | p99 | p50 ≤ 20 ms |",
  "|---|---|---|---|---|",
  ...rows,
  "",
  "Pages are keyset ranges on the auth table's `(created_at, id)` index, so a deep page costs what the first one costs.",
  "A filter that matches few users (`verified`, `banned`) walks the index until it fills a page: with no match at all it",
  "reads every user once (the last row above), which is the worst case of a filtered listing.",
  "<!-- admin-users:end -->",
].join("\n");
console.log(block);
const resultsPath = join(import.meta.dir, "RESULTS.md");
const current = readFileSync(resultsPath, "utf8");
const re = /<!-- admin-users:start -->[\s\S]*<!-- admin-users:end -->/;
writeFileSync(resultsPath, re.test(current) ? current.replace(re, block) : `${current.trimEnd()}\n\n${block}\n`);
