/**
 * Server time of every admin console page with 100,000 users (issue: "every page under 100 ms").
 * Standalone and in-process like bench/admin-users.ts: users, bans, sessions, audit rows and
 * outbox rows are seeded straight into the project database, a console session is opened with the
 * admin key, and each page is requested through the app's own handler (no network, no browser).
 *
 *   bun bench/console.ts            # prints a table and rewrites the block in bench/RESULTS.md
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
const AUDIT_ROWS = 200_000;
const ITERATIONS = 100;
const TARGET_MS = 100;
const ADMIN_KEY = "sk_" + "c".repeat(43);

const dir = mkdtempSync(join(tmpdir(), "latchkey-bench-console-"));
const dataDir = join(dir, "data");
const configDir = join(dir, "projects");
mkdirSync(dataDir, { recursive: true });
mkdirSync(configDir, { recursive: true });
writeFileSync(
  join(configDir, "bench.yaml"),
  stringify({
    id: "bench",
    keys: { admin: ADMIN_KEY },
    allowed_redirect_origins: ["https://myapp.com"],
    tables: {
      users: {
        auth_table: true,
        columns: {
          display_name: "string max_length 80",
          role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
          note: { type: "string", hidden: true },
        },
      },
    },
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
const insertUser = p.db.prepare(
  `INSERT INTO users(id, created_at, updated_at, email, _email_canonical, email_verified, password_hash, display_name) VALUES (?, ?, ?, ?, ?, ?, 'x', ?)`,
);
const insertAudit = p.db.prepare(`INSERT INTO _audit(at, type, user_id, ip, user_agent, request_id, details) VALUES (?, ?, ?, '10.0.0.1', 'bench', NULL, '{}')`);
const base = Date.UTC(2026, 0, 1);
const ids: { id: string; at: string }[] = [];
p.db.transaction(() => {
  for (let i = 0; i < USERS; i++) {
    const id = crypto.randomUUID();
    const at = new Date(base + i * 1000).toISOString();
    insertUser.run(id, at, at, `user${i}@example.com`, `user${i}@example.com`, i % 2, `User ${i}`);
    ids.push({ id, at });
  }
  // 20 banned users spread over the table: `banned=true` walks the whole index to fill a page.
  for (let i = 0; i < USERS; i += 5000) p.db.query("INSERT INTO _user_status(user_id, banned_at, ban_reason) VALUES (?, ?, 'bench')").run(ids[i].id, base);
  const types = ["user.login", "user.login_failed", "user.signup", "session.revoked"];
  for (let i = 0; i < AUDIT_ROWS; i++) insertAudit.run(base + i * 100, types[i % types.length], ids[i % USERS].id);
  // 20 live sessions for the user shown on the user page.
  for (let s = 0; s < 20; s++) {
    const sid = crypto.randomUUID();
    p.db.query("INSERT INTO _sessions(id, user_id, created_at, last_used_at, ip, user_agent) VALUES (?, ?, ?, ?, '10.0.0.2', 'bench')").run(sid, ids[500].id, base, base);
    p.db.query("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)").run(crypto.randomUUID(), sid, base, Date.now() + 86_400_000);
  }
  for (let m = 0; m < 1000; m++) {
    p.db.query("INSERT INTO _outbox(id, template, to_addr, status, attempts, next_attempt_at, last_error, created_at, finished_at) VALUES (?, 'verify_email', ?, ?, ?, ?, ?, ?, ?)")
      .run(crypto.randomUUID(), `user${m}@example.com`, m % 2 ? "failed" : "pending", 10, base, "Error: connection refused", base + m, m % 2 ? base + m : null);
  }
})();
p.db.exec("PRAGMA optimize");
const seedMs = performance.now() - seedStart;

const signIn = await booted.app.handle(
  new Request("http://localhost/p/bench/admin/sign-in", { method: "POST", headers: { origin: "http://localhost", "content-type": "application/x-www-form-urlencoded" }, body: `key=${ADMIN_KEY}` }),
);
const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0];
if (signIn.status !== 303 || !cookie) throw new Error(`sign-in answered ${signIn.status}`);

async function measure(path: string, signedIn = true): Promise<{ p50: number; p99: number; max: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < ITERATIONS + 10; i++) {
    const t0 = performance.now();
    const res = await booted.app.handle(new Request(`http://localhost/p/bench/admin${path}`, { headers: signedIn ? { cookie } : {} }));
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 300)}`);
    bytes = text.length;
    if (i >= 10) times.push(ms); // the first 10 warm up the statement cache
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)], max: times[times.length - 1], bytes };
}

const deep = ids[89_999];
const cases: [string, string][] = [
  ["sign-in page", "/sign-in"],
  ["users, first page", "/users"],
  ["users, page after user 90,000", `/users?cursor=${encodeURIComponent(encodeCursor(p, "users", [deep.at, deep.id]))}`],
  ["users, email prefix q=user9999", "/users?q=user9999"],
  ["users, q=<id>", `/users?q=${ids[77_777].id}`],
  ["users, verified=true", "/users?verified=true"],
  ["users, banned=true (20 of 100,000)", "/users?banned=true"],
  ["users, banned=true&verified=false&q=user1", "/users?banned=true&verified=false&q=user1"],
  ["user page (20 live sessions)", `/users/${ids[500].id}`],
  ["audit log (200,000 rows), newest", "/audit"],
  ["audit log, type=user.login_failed", "/audit?type=user.login_failed"],
  ["audit log, user_id", `/audit?user_id=${ids[500].id}`],
  ["audit log, type with no match", "/audit?type=admin.user_deleted"],
  ["redirect origins", "/origins"],
  ["keys", "/keys"],
  ["schema", "/schema"],
  ["outbox (1,000 rows)", "/outbox"],
];
const rows: string[] = [];
let worst = 0;
for (const [label, path] of cases) {
  const r = await measure(path, path !== "/sign-in");
  worst = Math.max(worst, r.p99);
  rows.push(`| ${label} | ${(r.bytes / 1024).toFixed(1)} KiB | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.max.toFixed(2)} ms | ${r.p99 < TARGET_MS ? "PASS" : "FAIL"} |`);
}
await booted.close();
rmSync(dir, { recursive: true, force: true });

const load = loadavg().map((x) => x.toFixed(2)).join(" ");
const block = [
  "<!-- console:start -->",
  "## Admin console pages with 100,000 users",
  "",
  `Written by \`bun bench/console.ts\` (${new Date().toISOString()}). ${USERS.toLocaleString("en")} users (half verified, 20 banned),`,
  `${AUDIT_ROWS.toLocaleString("en")} audit rows, 1,000 outbox rows, seeded straight into the project database in ${(seedMs / 1000).toFixed(1)} s.`,
  `Each page: ${ITERATIONS} requests with a console session cookie through the app's handler in-process (no network, no browser),`,
  `one at a time, after 10 warm-up requests; the time includes rendering the HTML. Target: every page under ${TARGET_MS} ms (p99).`,
  "",
  `> Taken on a loaded machine: ${navigator.hardwareConcurrency} cores shared with other work, load average ${load} at the end, so these numbers are noisy.`,
  "",
  "| page | HTML | p50 | p99 | max | p99 < 100 ms |",
  "|---|---|---|---|---|---|",
  ...rows,
  "",
  `Worst p99: ${worst.toFixed(2)} ms. The console calls the admin API's services, so a page costs what the API call costs plus the HTML.`,
  "<!-- console:end -->",
].join("\n");
console.log(block);
const resultsPath = join(import.meta.dir, "RESULTS.md");
const current = readFileSync(resultsPath, "utf8");
const re = /<!-- console:start -->[\s\S]*<!-- console:end -->/;
writeFileSync(resultsPath, re.test(current) ? current.replace(re, block) : `${current.trimEnd()}\n\n${block}\n`);
