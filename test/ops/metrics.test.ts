/**
 * `serve --metrics` (SPEC §14) through the real server: GET /metrics parsed by an independent
 * Prometheus text-format parser; the counters move with the requests made; the token is enforced.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import { ROOT, startServe, type Running } from "../cli/run.ts";
import { call, opsProjectYaml } from "./helpers.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const PASSWORD = "correct horse battery staple";
const TOKEN = "metrics-token-for-tests-0123456789";

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

let running: Running;
let dir = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-metrics-"));
  mkdirSync(join(dir, "projects"));
  writeFileSync(
    join(dir, "projects", "alpha.yaml"),
    opsProjectYaml("alpha", {}, {}).replace("auth_table: true", "auth_table: true\n    verify_email: true").replace("auth:\n", "auth:\n  refresh_reuse_grace: 0s\n"),
  );
  running = await startServe([BUN, MAIN, "serve", "--config", join(dir, "projects"), "--data", join(dir, "data"), "--port", "0", "--metrics"], {
    env: { LATCHKEY_METRICS_TOKEN: TOKEN },
  });
});

afterAll(async () => {
  running.proc.kill("SIGTERM");
  await running.proc.exited;
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<Family[]> {
  const r = await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return parsePrometheus(await r.text()) as Family[];
}

function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const f = families.find((x) => x.name === name);
  if (!f) return 0;
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m ? Number(m.value ?? m.count) : 0;
}

describe("GET /metrics", () => {
  it("needs the bearer token when LATCHKEY_METRICS_TOKEN is set", async () => {
    const none = await call(running.url, "GET", "/metrics");
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("AUTH_REQUIRED");
    const wrong = await call(running.url, "GET", "/metrics", { token: "metrics-token-for-tests-0123456788" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("AUTH_INVALID_TOKEN");
    expect(JSON.stringify(wrong.body)).not.toContain("0123456788");
    const short = await call(running.url, "GET", "/metrics", { token: "x" });
    expect(short.status).toBe(401);
  });

  it("lists every metric of SPEC §14 with its type, parsed by a Prometheus parser", async () => {
    const families = await scrape();
    const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      latchkey_http_requests_total: "COUNTER",
      latchkey_http_request_duration_seconds: "HISTOGRAM",
      latchkey_logins_total: "COUNTER",
      latchkey_lockouts_total: "COUNTER",
      latchkey_refresh_reuse_detected_total: "COUNTER",
      latchkey_hash_queue_depth: "GAUGE",
      latchkey_hash_wait_seconds: "HISTOGRAM",
      latchkey_outbox_messages: "GAUGE",
      latchkey_mail_sent_total: "COUNTER",
      latchkey_mail_failed_total: "COUNTER",
      latchkey_config_reloads_total: "COUNTER",
      latchkey_config_last_reload_success: "GAUGE",
      latchkey_storage_busy_total: "COUNTER",
      latchkey_projects: "GAUGE",
    });
    expect(value(families, "latchkey_projects", { state: "loaded" })).toBe(1);
    expect(value(families, "latchkey_projects", { state: "failed" })).toBe(0);
    expect(value(families, "latchkey_config_last_reload_success")).toBe(1);
  });

  it("moves the counters as requests are made, with route templates and no user data in labels", async () => {
    const before = await scrape();
    const signupRoute = { project: "alpha", route: "/p/:projectId/auth/signup", method: "POST", status: "201" };
    const emails = ["m1@example.com", "m2@example.com", "m3@example.com"];
    const tokens: { token: string; refresh: string }[] = [];
    for (const email of emails) {
      const s = await call(running.url, "POST", "/p/alpha/auth/signup", { body: { email, password: PASSWORD } });
      expect(s.status).toBe(201);
      tokens.push({ token: s.body.data.token, refresh: s.body.data.refresh_token });
    }
    expect((await call(running.url, "GET", "/p/alpha/auth/me", { token: tokens[0].token })).status).toBe(200);
    expect((await call(running.url, "POST", "/p/alpha/auth/login", { body: { email: emails[1], password: PASSWORD } })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect((await call(running.url, "POST", "/p/alpha/auth/login", { body: { email: emails[2], password: "wrong password here" } })).status).toBe(401);
    }
    // A refresh token used twice: the second use is reuse.
    expect((await call(running.url, "POST", "/p/alpha/auth/refresh", { body: { refresh_token: tokens[0].refresh } })).status).toBe(200);
    expect((await call(running.url, "POST", "/p/alpha/auth/refresh", { body: { refresh_token: tokens[0].refresh } })).status).toBe(401);
    expect((await call(running.url, "GET", "/p/alpha/no/such/route")).status).toBe(404);

    // Each signup queues a verification mail; the console provider sends it in the background.
    const sentBefore = value(before, "latchkey_mail_sent_total", { project: "alpha" });
    let after: Family[] = [];
    const deadline = Date.now() + 10_000;
    do {
      after = await scrape();
      // Request metrics are recorded just after each response has gone out, so the last one may lag.
      const lastRecorded = value(after, "latchkey_http_requests_total", { route: "unmatched", status: "404" }) > 0;
      if (lastRecorded && value(after, "latchkey_mail_sent_total", { project: "alpha" }) >= sentBefore + 3) break;
      await Bun.sleep(50);
    } while (Date.now() < deadline);
    expect(value(after, "latchkey_mail_sent_total", { project: "alpha" })).toBe(sentBefore + 3);

    expect(value(after, "latchkey_http_requests_total", signupRoute) - value(before, "latchkey_http_requests_total", signupRoute)).toBe(3);
    const meRoute = { project: "alpha", route: "/p/:projectId/auth/me", method: "GET", status: "200" };
    expect(value(after, "latchkey_http_requests_total", meRoute) - value(before, "latchkey_http_requests_total", meRoute)).toBe(1);
    // This parser folds the series of a labelled histogram into one bucket map; the bucket bounds are what it keeps.
    const duration = after.find((f) => f.name === "latchkey_http_request_duration_seconds");
    expect(Object.keys(duration?.metrics[0]?.buckets ?? {}).sort()).toEqual(
      ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"].sort(),
    );
    expect(value(after, "latchkey_logins_total", { project: "alpha", result: "ok" }) - value(before, "latchkey_logins_total", { project: "alpha", result: "ok" })).toBe(1);
    expect(value(after, "latchkey_logins_total", { project: "alpha", result: "failed" }) - value(before, "latchkey_logins_total", { project: "alpha", result: "failed" })).toBe(2);
    expect(value(after, "latchkey_refresh_reuse_detected_total", { project: "alpha" }) - value(before, "latchkey_refresh_reuse_detected_total", { project: "alpha" })).toBe(1);
    // Signups and logins each hash once (plus the background dummy hash): the wait histogram counts them.
    expect(value(after, "latchkey_hash_wait_seconds") - value(before, "latchkey_hash_wait_seconds")).toBeGreaterThanOrEqual(6);
    expect(value(after, "latchkey_outbox_messages", { project: "alpha", state: "pending" })).toBe(0);

    // Unmatched paths are one label value; no raw path, email or user id ever becomes a label.
    const labels = after.flatMap((f) => f.metrics.map((m) => m.labels ?? {}));
    expect(labels.some((l) => l.route === "unmatched")).toBe(true);
    const labelValues = labels.flatMap((l) => Object.values(l));
    expect(labelValues.filter((v) => v.includes("@") || v.includes("/no/such") || /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(v))).toEqual([]);
  }, 30_000);
});
