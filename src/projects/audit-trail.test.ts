import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { auditDetails, auditTypeOf, withAuditTrail } from "./audit-trail.ts";
import { createMemoryLogger } from "../log.ts";
import internalSql from "../storage/sqlite/internal.sql" with { type: "text" };
import { createAuditLog } from "../storage/sqlite/audit.ts";

describe("audit trail", () => {
  it("maps log events to the SPEC's audit types and keeps unknown ones as they are", () => {
    expect(auditTypeOf("login_failed")).toBe("user.login_failed");
    expect(auditTypeOf("login_banned")).toBe("user.login_failed");
    expect(auditTypeOf("password_reset_completed")).toBe("user.password_reset");
    expect(auditTypeOf("admin.user_banned")).toBe("admin.user_banned");
  });

  it("drops keys naming a secret and anything that is not a small plain value", () => {
    const d = auditDetails("login_banned", {
      user_id: "u", ip: "1.2.3.4", request_id: "r", user_agent: "ua", project: "demo",
      password: "hunter2hunter2", new_password: "x", refresh_token: "rt_abc", token: "t", admin_key: "sk_x",
      password_hash: "$argon2id$...", client_secret: "s", authorization: "Bearer x",
      kinds: ["admin"], count: 3, ok: true, note: "n".repeat(500), nested: { token: "t" },
    });
    expect(d).toEqual({ reason: "banned", kinds: ["admin"], count: 3, ok: true, note: "n".repeat(200) });
  });

  it("writes one row per event into the database, in the caller's transaction", () => {
    const db = new Database(":memory:");
    db.exec(internalSql);
    const log = createMemoryLogger();
    const audit = createAuditLog(db);
    const audited = withAuditTrail(log, () => ({ append: async (row) => audit.append(row) }), () => Date.UTC(2026, 0, 1));
    audited.child({ project: "demo" }).event("login", { user_id: "u1", ip: "1.2.3.4", user_agent: "UA", request_id: "r1", session_id: "s1" });
    try {
      db.transaction(() => {
        audited.event("logout", { user_id: "u1" });
        throw new Error("rolled back");
      })();
    } catch {
      // the row of a rolled-back change goes with it
    }
    const rows = db.query("SELECT at, type, user_id, ip, user_agent, request_id, details FROM _audit").all();
    expect(rows).toEqual([
      { at: Date.UTC(2026, 0, 1), type: "user.login", user_id: "u1", ip: "1.2.3.4", user_agent: "UA", request_id: "r1", details: '{"session_id":"s1"}' },
    ]);
    expect(log.lines.some((l) => l.includes('"event":"login"'))).toBe(true);
  });
});
