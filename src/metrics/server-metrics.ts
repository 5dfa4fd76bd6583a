/**
 * The server's metrics (SPEC §14). Labels are only project ids, route templates, methods,
 * statuses and fixed result words: never a user id, an email, a token or a raw path.
 */
import type { LogLevel } from "../log.ts";
import { createRegistry, type Counter, type Gauge, type Histogram, type Registry } from "./registry.ts";

export const LOGIN_RESULTS = ["ok", "failed", "locked", "banned", "unverified"] as const;
export type LoginResult = (typeof LOGIN_RESULTS)[number];
export type ReloadResult = "ok" | "partial" | "failed";

/** Security events (SPEC 9.6 log names) that feed a counter. */
const LOGIN_EVENTS: Readonly<Record<string, LoginResult>> = {
  login: "ok",
  login_failed: "failed",
  login_locked: "locked",
  login_banned: "banned",
  login_refused_unverified: "unverified",
};

/** What the scrape-time gauges read: filled in by the composition root once the server is built. */
export interface MetricsSources {
  hashQueueDepth(): number;
  /**
   * loaded: configured and loaded (open or closed); open / closed: whose database is open now /
   * closed by the pool (idle, past --max-open-projects, or not opened yet); failed; removed: by a
   * reload since start.
   */
  projectStates(): { loaded: number; open: number; closed: number; failed: number; removed: number };
  /** Outbox counts per loaded project. */
  outbox(): { project: string; pending: number; failed: number }[];
}

export interface ServerMetrics {
  readonly registry: Registry;
  recordRequest(project: string, route: string, method: string, status: number, seconds: number): void;
  recordHashWait(seconds: number): void;
  recordReload(result: ReloadResult): void;
  recordStorageBusy(project: string): void;
  /** Counts security and mail events from log entries (see `LogObserver`). */
  observeLog(level: LogLevel, msg: string, fields: Record<string, unknown>): void;
  setSources(sources: MetricsSources): void;
  render(): string;
}

export function createServerMetrics(): ServerMetrics {
  const registry = createRegistry();
  let sources: MetricsSources | null = null;

  const requests = registry.counter("latchkey_http_requests_total", "HTTP requests answered, by project, route template, method and status.");
  const duration: Histogram = registry.histogram("latchkey_http_request_duration_seconds", "Time to answer an HTTP request, by project and route template.");
  const logins: Counter = registry.counter("latchkey_logins_total", "Login attempts by result (ok, failed, locked, banned, unverified).");
  const lockouts = registry.counter("latchkey_lockouts_total", "Accounts locked after too many failed logins.");
  const reuse = registry.counter("latchkey_refresh_reuse_detected_total", "Refresh tokens presented again after rotation (the session was revoked).");
  registry.gauge("latchkey_hash_queue_depth", "Password hash operations waiting for a slot.", (g: Gauge) => {
    g.set({}, sources?.hashQueueDepth() ?? 0);
  });
  const hashWait = registry.histogram("latchkey_hash_wait_seconds", "Time a password hash operation waited for a slot.");
  registry.gauge("latchkey_outbox_messages", "Outbox messages by state (pending, failed).", (g) => {
    for (const o of sources?.outbox() ?? []) {
      g.set({ project: o.project, state: "pending" }, o.pending);
      g.set({ project: o.project, state: "failed" }, o.failed);
    }
  });
  const mailSent = registry.counter("latchkey_mail_sent_total", "Messages accepted by the mail provider.");
  const mailFailed = registry.counter("latchkey_mail_failed_total", "Failed delivery attempts (retried or given up) and dropped messages.");
  const reloads = registry.counter("latchkey_config_reloads_total", "Configuration reloads by result (ok, partial: a project kept its previous configuration, failed: nothing changed).");
  const lastReload = registry.gauge("latchkey_config_last_reload_success", "1 when the last reload applied every project file (also before any reload), 0 otherwise.");
  lastReload.set({}, 1);
  const storageBusy = registry.counter("latchkey_storage_busy_total", "Requests answered 503 because the database was busy or unavailable.");
  registry.gauge("latchkey_projects", "Projects by state (loaded = open + closed: database open now or closed by the pool; failed; removed by a reload).", (g) => {
    const s = sources?.projectStates() ?? { loaded: 0, open: 0, closed: 0, failed: 0, removed: 0 };
    g.set({ state: "loaded" }, s.loaded);
    g.set({ state: "open" }, s.open);
    g.set({ state: "closed" }, s.closed);
    g.set({ state: "failed" }, s.failed);
    g.set({ state: "removed" }, s.removed);
  });
  for (const result of ["ok", "partial", "failed"]) reloads.inc({ result }, 0);

  const projectOf = (fields: Record<string, unknown>): string => (typeof fields.project === "string" ? fields.project : "");

  return {
    registry,
    recordRequest(project, route, method, status, seconds) {
      requests.inc({ project, route, method, status: String(status) });
      duration.observe({ project, route }, seconds);
    },
    recordHashWait: (seconds) => hashWait.observe({}, seconds),
    recordReload(result) {
      reloads.inc({ result });
      lastReload.set({}, result === "ok" ? 1 : 0);
    },
    recordStorageBusy: (project) => storageBusy.inc({ project }),
    observeLog(_level, msg, fields) {
      const event = typeof fields.event === "string" ? fields.event : null;
      const project = projectOf(fields);
      if (event !== null) {
        const result = LOGIN_EVENTS[event];
        if (result) logins.inc({ project, result });
        else if (event === "lockout") lockouts.inc({ project });
        else if (event === "refresh_reuse") reuse.inc({ project });
        return;
      }
      if (msg === "mail sent") mailSent.inc({ project });
      else if (msg.startsWith("mail delivery failed") || msg === "mail dropped") mailFailed.inc({ project });
    },
    setSources(s) {
      sources = s;
    },
    render: () => registry.render(),
  };
}
