/**
 * The admin-side operation groups of the SQLite engine, on a real project database file: key
 * rotation under the admin grant, the housekeeping window (and the durability setting it must
 * restore), console sessions and the audit log's keyset cursor.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { sha256Hex } from "../../crypto/digest.ts";
import { defaultRandomBytes } from "../../crypto/random.ts";
import { closeProjectDb, openProjectDb } from "./open.ts";
import { createSettingsRepo } from "./settings.ts";
import { createProjectKeys } from "./keys.ts";
import { createHousekeeping } from "./housekeeping.ts";
import { createConsoleSessions } from "./console-sessions.ts";
import { createAuditLog } from "./audit.ts";
import { TransactionGate } from "./transactions.ts";

const NOW_ISO = "2026-01-01T00:00:00.000Z";
const NOW = Date.parse(NOW_ISO);
let dir: string | null = null;
let open: Database | null = null;

function projectDb(): Database {
  dir = mkdtempSync(join(tmpdir(), "lk-admin-groups-"));
  open = openProjectDb(join(dir, "demo.db"), { projectId: "demo", nowIso: NOW_ISO });
  return open;
}

afterEach(() => {
  if (open) closeProjectDb(open);
  if (dir) rmSync(dir, { recursive: true, force: true });
  open = dir = null;
});

describe("keys", () => {
  it("answers a rotation that raced with another (same grant) with that rotation's key, and stores one key", () => {
    const db = projectDb();
    const settings = createSettingsRepo(db);
    const keys = createProjectKeys(db, settings, defaultRandomBytes);
    keys.ensure({}, NOW_ISO);
    const seen = { admin: keys.storedHash("admin"), public: keys.storedHash("public") };
    const first = keys.rotate(["admin"], NOW_ISO, { seen });
    const second = keys.rotate(["admin"], NOW_ISO, { seen });
    expect(first.admin).toStartWith("sk_");
    expect(second.admin).toBe(first.admin!);
    expect(keys.storedHash("admin")).toBe(sha256Hex(first.admin!));
    expect(keys.matches("admin", first.admin!)).toBe(true);
    // A rotation authorized after the first one landed replaces the key again.
    const later = keys.rotate(["admin"], NOW_ISO, { seen: { admin: keys.storedHash("admin"), public: seen.public } });
    expect(later.admin).not.toBe(first.admin!);
    expect(keys.matches("admin", later.admin!)).toBe(true);
    expect(keys.matches("admin", first.admin!)).toBe(false);
  });

  it("rotates inside a caller's transaction and rolls back with it", async () => {
    const db = projectDb();
    const keys = createProjectKeys(db, createSettingsRepo(db), defaultRandomBytes);
    keys.ensure({}, NOW_ISO);
    const before = keys.storedHash("public");
    const gate = new TransactionGate(db);
    await expect(gate.run(async () => {
      gate.inside(keys.rotate)(["public"], NOW_ISO);
      throw new Error("the caller fails after the rotation");
    })).rejects.toThrow("the caller fails");
    expect(keys.storedHash("public")).toBe(before);
  });
});

describe("housekeeping windows", () => {
  it("deletes only the expired tokens of one window, says where it stopped, and restores synchronous=FULL", () => {
    const db = projectDb();
    const insert = db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, 's', 0, ?)");
    for (let i = 0; i < 10; i++) insert.run(`t${i}`, i % 2 === 0 ? NOW - 1 : NOW + 60_000);
    const hk = createHousekeeping(db);
    const cutoffs = { nowMs: NOW, endedBeforeMs: NOW, idleBeforeMs: NOW };
    const first = hk.pruneWindow("expiredRefreshTokens", "", 4, cutoffs);
    expect(first).toEqual({ last: "t3", examined: 4, deleted: 2 });
    expect((db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
    const second = hk.pruneWindow("expiredRefreshTokens", first!.last, 100, cutoffs);
    expect(second).toEqual({ last: "t9", examined: 6, deleted: 3 });
    expect(hk.pruneWindow("expiredRefreshTokens", second!.last, 100, cutoffs)).toBeNull();
    expect((db.query("SELECT token_hash FROM _refresh_tokens ORDER BY 1").all() as { token_hash: string }[]).map((r) => r.token_hash))
      .toEqual(["t1", "t3", "t5", "t7", "t9"]);
    expect((db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
  });

  it("deletes sessions ended before the retention and the tokens they leave behind", () => {
    const db = projectDb();
    const session = db.prepare("INSERT INTO _sessions(id, user_id, created_at, last_used_at, revoked_at) VALUES (?, 'u', 0, ?, ?)");
    session.run("old-ended", NOW, NOW - 10);
    session.run("recent-ended", NOW, NOW + 10);
    session.run("live", NOW, null);
    db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, 0, ?)").run("tok", "old-ended", NOW + 60_000);
    const hk = createHousekeeping(db);
    const cutoffs = { nowMs: NOW, endedBeforeMs: NOW, idleBeforeMs: NOW - 1 };
    expect(hk.pruneWindow("endedSessions", "", 100, cutoffs)?.deleted).toBe(1);
    expect(hk.pruneWindow("orphanRefreshTokens", "", 100, cutoffs)?.deleted).toBe(1);
    expect((db.query("SELECT id FROM _sessions ORDER BY 1").all() as { id: string }[]).map((r) => r.id)).toEqual(["live", "recent-ended"]);
  });
});

describe("console sessions", () => {
  it("drops expired sessions when one starts, finds a live one, and ends all", () => {
    const db = projectDb();
    const cs = createConsoleSessions(db);
    cs.start("h-old", "mark", NOW - 100, NOW - 1);
    cs.start("h-new", "mark", NOW, NOW + 1000);
    expect(cs.find("h-old")).toBeNull();
    expect(cs.find("h-new")).toEqual({ keyMark: "mark", expiresAtMs: NOW + 1000 });
    cs.endAll();
    expect(cs.find("h-new")).toBeNull();
  });
});

describe("audit log", () => {
  it("lists newest first and pages with the id cursor and the filters", () => {
    const db = projectDb();
    const audit = createAuditLog(db);
    for (let i = 0; i < 5; i++) {
      audit.append({ at: NOW + i, type: i % 2 ? "user.login" : "user.logout", userId: "u", ip: null, userAgent: null, requestId: null, details: { i } });
    }
    const page1 = audit.list({ limit: 2 });
    expect(page1.map((e) => e.details.i)).toEqual([4, 3]);
    const page2 = audit.list({ limit: 2, beforeId: page1[1].id });
    expect(page2.map((e) => e.details.i)).toEqual([2, 1]);
    expect(audit.list({ limit: 10, type: "user.login" }).map((e) => e.details.i)).toEqual([3, 1]);
    expect(audit.prune(NOW + 2)).toBe(2);
    expect(audit.list({ limit: 10 }).map((e) => e.details.i)).toEqual([4, 3, 2]);
  });
});
