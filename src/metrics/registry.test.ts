import { describe, expect, it } from "bun:test";
import { createRegistry } from "./registry.ts";
import { createServerMetrics } from "./server-metrics.ts";

describe("metrics registry", () => {
  it("writes one series per label set for counters and histograms, with escaped label values", () => {
    const r = createRegistry();
    const c = r.counter("t_total", "A counter.");
    c.inc({ route: "/a" });
    c.inc({ route: "/a" });
    c.inc({ route: 'q"\\\n' }, 3);
    const h = r.histogram("t_seconds", "A histogram.", [0.1, 1]);
    h.observe({ route: "/a" }, 0.05);
    h.observe({ route: "/a" }, 0.5);
    h.observe({ route: "/b" }, 2);
    expect(r.render()).toBe(
      [
        "# HELP t_total A counter.",
        "# TYPE t_total counter",
        't_total{route="/a"} 2',
        't_total{route="q\\"\\\\\\n"} 3',
        "# HELP t_seconds A histogram.",
        "# TYPE t_seconds histogram",
        't_seconds_bucket{route="/a",le="0.1"} 1',
        't_seconds_bucket{route="/a",le="1"} 2',
        't_seconds_bucket{route="/a",le="+Inf"} 2',
        't_seconds_sum{route="/a"} 0.55',
        't_seconds_count{route="/a"} 2',
        't_seconds_bucket{route="/b",le="0.1"} 0',
        't_seconds_bucket{route="/b",le="1"} 0',
        't_seconds_bucket{route="/b",le="+Inf"} 1',
        't_seconds_sum{route="/b"} 2',
        't_seconds_count{route="/b"} 1',
        "",
      ].join("\n"),
    );
  });

  it("counts login results, lockouts, refresh reuse and mail from the log events, labelled by project only", () => {
    const m = createServerMetrics();
    const events: [string, string | null][] = [
      ["login", "login"], ["login_failed", "login_failed"], ["login_failed", "login_failed"], ["login_locked", "login_locked"],
      ["login_refused_unverified", "login_refused_unverified"], ["lockout", "lockout"], ["refresh_reuse", "refresh_reuse"],
      ["mail sent", null], ["mail delivery failed; will retry", null], ["mail delivery failed; giving up", null], ["signup", "signup"],
    ];
    for (const [msg, event] of events) m.observeLog("info", msg, { project: "p1", user_id: "u-1", ...(event ? { event } : {}) });
    const text = m.render();
    expect(text).toContain('latchkey_logins_total{project="p1",result="ok"} 1\n');
    expect(text).toContain('latchkey_logins_total{project="p1",result="failed"} 2\n');
    expect(text).toContain('latchkey_logins_total{project="p1",result="locked"} 1\n');
    expect(text).toContain('latchkey_logins_total{project="p1",result="unverified"} 1\n');
    expect(text).toContain('latchkey_lockouts_total{project="p1"} 1\n');
    expect(text).toContain('latchkey_refresh_reuse_detected_total{project="p1"} 1\n');
    expect(text).toContain('latchkey_mail_sent_total{project="p1"} 1\n');
    expect(text).toContain('latchkey_mail_failed_total{project="p1"} 2\n');
    expect(text).not.toContain("u-1");
    m.recordReload("failed");
    expect(m.render()).toContain("latchkey_config_last_reload_success 0\n");
    m.recordReload("ok");
    expect(m.render()).toContain("latchkey_config_last_reload_success 1\n");
  });
});
