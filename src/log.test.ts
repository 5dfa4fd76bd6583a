import { describe, expect, it } from "bun:test";
import { createLogger, type LogLevel } from "./log.ts";

function linesAt(level: LogLevel): Record<string, unknown>[] {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l) });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.child({ project: "demo" }).event("login_failed", { ip: "192.0.2.1", request_id: "r1" });
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("log levels", () => {
  it("writes security events at every level, and filters the rest", () => {
    for (const level of ["debug", "info", "warn", "error"] as const) {
      const events = linesAt(level).filter((l) => l.event === "login_failed");
      expect({ level, events: events.length }).toEqual({ level, events: 1 });
      expect(events[0]).toMatchObject({ level: "info", msg: "login_failed", project: "demo", ip: "192.0.2.1", request_id: "r1" });
    }
    expect(linesAt("warn").map((l) => l.msg)).toEqual(["w", "login_failed"]);
    expect(linesAt("error").map((l) => l.msg)).toEqual(["login_failed"]);
    expect(linesAt("debug").map((l) => l.msg)).toEqual(["d", "i", "w", "login_failed"]);
  });

  it("writes the listening line at every level", () => {
    for (const level of ["debug", "info", "warn", "error"] as const) {
      const lines: string[] = [];
      createLogger({ level, write: (l) => lines.push(l) }).announce("listening on http://127.0.0.1:1");
      expect(lines.length).toBe(1);
      expect(JSON.parse(lines[0])).toMatchObject({ level: "info", msg: "listening on http://127.0.0.1:1" });
    }
  });
});
