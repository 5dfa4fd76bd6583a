import { afterEach, describe, expect, it } from "bun:test";
import { applySchema, planSchema, SchemaApplyError } from "../../src/storage/schema/index.ts";
import { col, columnNames, historyRows, insertRow, LATER, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

const notesV1 = table("notes", [col("title", "string", { required: true })]);

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

function seeded(): TestDb {
  current = openTestDb();
  applySchema(current.db, [notesV1], { confirmDestructive: false, nowIso: NOW });
  insertRow(current.db, "notes", "n1", { title: "first" });
  insertRow(current.db, "notes", "n2", { title: "second" });
  return current;
}

describe("additive changes", () => {
  it("applies a new table, a nullable column, a defaulted column and an index without confirmation", () => {
    const { db } = seeded();
    const tags = table("tags", [col("label", "string", { unique: true })]);
    const notesV2 = table("notes", [
      col("title", "string", { required: true, index: true }),
      col("body", "text"),
      col("priority", "int", { required: true, hasDefault: true, default: 3 }),
      col("pinned", "bool", { hasDefault: true, default: false }),
    ]);
    const plan = applySchema(db, [notesV2, tags], { confirmDestructive: false, nowIso: LATER });

    expect(plan.blocked).toBe(false);
    expect(plan.changes.map((c) => `${c.kind} ${c.table}${c.column ? `.${c.column}` : ""}`)).toEqual([
      "create_table tags",
      "add_column notes.body",
      "add_column notes.priority",
      "add_column notes.pinned",
      "add_index notes.title",
    ]);
    expect(columnNames(db, "notes")).toEqual(["id", "created_at", "updated_at", "title", "body", "priority", "pinned"]);
    expect(db.query("SELECT id, title, body, priority, pinned FROM notes ORDER BY id").all()).toEqual([
      { id: "n1", title: "first", body: null, priority: 3, pinned: 0 },
      { id: "n2", title: "second", body: null, priority: 3, pinned: 0 },
    ]);
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('notes_title_idx', 'tags_label_unique') ORDER BY name").all())
      .toEqual([{ name: "notes_title_idx" }, { name: "tags_label_unique" }]);

    const history = historyRows(db).filter((h) => h.applied_at === LATER);
    expect(history.map((h) => [h.kind, h.table_name, h.column_name, h.destructive])).toEqual([
      ["create_table", "tags", null, 0],
      ["add_column", "notes", "body", 0],
      ["add_column", "notes", "priority", 0],
      ["add_column", "notes", "pinned", 0],
      ["add_index", "notes", "title", 0],
    ]);
    expect(history[2]?.sql).toBe(`ALTER TABLE "notes" ADD COLUMN "priority" INTEGER NOT NULL DEFAULT 3`);
    expect(history[2]?.description).toBe("add column notes.priority (int required default 3); existing rows get 3");
  });

  it("records the first apply with its timestamp and applies nothing on a second run", () => {
    const { db } = seeded();
    expect(historyRows(db)).toEqual([expect.objectContaining({ applied_at: NOW, kind: "create_table", table_name: "notes" })]);
    const again = applySchema(db, [notesV1], { confirmDestructive: false, nowIso: LATER });
    expect(again.changes).toEqual([]);
    expect(historyRows(db)).toHaveLength(1);
    expect(planSchema(db, [notesV1], { confirmDestructive: false }).changes).toEqual([]);
  });

  it("drops an index that is no longer declared without confirmation", () => {
    const { db } = seeded();
    applySchema(db, [table("notes", [col("title", "string", { required: true, unique: true })])], { confirmDestructive: false, nowIso: LATER });
    const plan = applySchema(db, [notesV1], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => [c.kind, c.destructive])).toEqual([["drop_index", false]]);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'notes_title_unique'").get()).toBeNull();
  });

  it("widens an enum by rebuilding the table, keeping rows and other columns", () => {
    current = openTestDb();
    const { db } = current;
    const v1 = table("posts", [col("status", "enum", { values: ["draft", "live"], required: true }), col("title", "string", { index: true })]);
    applySchema(db, [v1], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "posts", "p1", { status: "live", title: "hello" });
    const v2 = table("posts", [col("status", "enum", { values: ["draft", "live", "archived"], required: true }), col("title", "string", { index: true })]);
    const plan = applySchema(db, [v2], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => [c.kind, c.destructive, c.description])).toEqual([["widen_enum", false, "change enum posts.status: allow 'archived'"]]);
    insertRow(db, "posts", "p2", { status: "archived" });
    expect(db.query("SELECT id, status, title FROM posts ORDER BY id").all()).toEqual([
      { id: "p1", status: "live", title: "hello" },
      { id: "p2", status: "archived", title: null },
    ]);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'posts_title_idx'").get()).toEqual({ name: "posts_title_idx" });
    expect(db.query("SELECT name FROM sqlite_master WHERE name LIKE '\\_new\\_%' ESCAPE '\\'").all()).toEqual([]);
  });

  it("adds a required column without a default to an empty table without confirmation", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [notesV1], { confirmDestructive: false, nowIso: NOW });
    const plan = applySchema(db, [table("notes", [col("title", "string", { required: true }), col("rank", "int", { required: true })])], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => [c.kind, c.destructive])).toEqual([["add_column", false]]);
    expect(() => insertRow(db, "notes", "n1", { title: "t" })).toThrow(/NOT NULL/);
  });

  it("fills a new required `default now` column from the apply clock without confirmation", () => {
    const { db } = seeded();
    const v2 = table("notes", [col("title", "string", { required: true }), col("seen_on", "date", { required: true, hasDefault: true, default: "now" })]);
    const plan = applySchema(db, [v2], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => [c.kind, c.destructive])).toEqual([["add_column", false]]);
    expect(db.query("SELECT DISTINCT seen_on FROM notes").all()).toEqual([{ seen_on: "2026-01-16" }]);
  });

  it("refuses a unique index over duplicate data with a message naming the column, changing nothing", () => {
    const { db } = seeded();
    insertRow(db, "notes", "n3", { title: "first" });
    const v2 = table("notes", [col("title", "string", { required: true, unique: true })]);
    const plan = planSchema(db, [v2], { confirmDestructive: true });
    expect(plan.blocked).toBe(true);
    expect(plan.conflicts.map((c) => c.description)).toEqual([
      "add unique index notes_title_unique on notes (title): notes.title has 1 duplicated values: remove the duplicates first",
    ]);
    expect(() => applySchema(db, [v2], { confirmDestructive: true, nowIso: LATER })).toThrow(/notes\.title has 1 duplicated values/);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'notes_title_unique'").get()).toBeNull();
    expect(historyRows(db)).toHaveLength(1);
  });

  it("turns a failing statement into a SchemaApplyError and rolls everything back", () => {
    const { db } = seeded();
    // Duplicates that appear only after a CAST escape the plan-time check; the apply must still fail cleanly.
    applySchema(db, [table("notes", [col("title", "string", { required: true }), col("code", "text")])], { confirmDestructive: false, nowIso: NOW });
    db.run("UPDATE notes SET code = CASE id WHEN 'n1' THEN '01' ELSE '1' END");
    const v3 = table("notes", [col("title", "string", { required: true }), col("code", "int", { unique: true })]);
    const before = historyRows(db).length;
    let error: unknown;
    try {
      applySchema(db, [v3], { confirmDestructive: true, nowIso: LATER });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SchemaApplyError);
    expect(String(error)).toMatch(/UNIQUE constraint failed: notes\.code/);
    expect(db.query("SELECT code FROM notes ORDER BY id").all()).toEqual([{ code: "01" }, { code: "1" }]);
    expect(historyRows(db)).toHaveLength(before);
    expect(db.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
  });
});
