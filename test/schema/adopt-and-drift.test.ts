import { afterEach, describe, expect, it } from "bun:test";
import { applySchema, createTableSql, formatPlan, indexSql, planSchema, readAppliedModel, SchemaBlockedError } from "../../src/storage/schema/index.ts";
import { col, dumpDatabase, historyRows, insertRow, LATER, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

const notes = table("notes", [col("title", "string", { required: true, index: true }), col("done", "bool")]);

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

describe("tables the snapshot does not know", () => {
  it("adopts an existing table that matches the declaration, keeping its rows", () => {
    current = openTestDb();
    const { db } = current;
    db.run(createTableSql(notes));
    for (const sql of indexSql(notes)) db.run(sql);
    insertRow(db, "notes", "n1", { title: "kept", done: 1 });

    const plan = applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    expect(plan.changes.map((c) => [c.kind, c.destructive, c.conflict])).toEqual([["adopt_table", false, false]]);
    expect(db.query("SELECT id, title FROM notes").all()).toEqual([{ id: "n1", title: "kept" }]);
    expect(readAppliedModel(db)?.tables.map((t) => t.name)).toEqual(["notes"]);
    expect(historyRows(db).map((h) => h.kind)).toEqual(["adopt_table"]);
    expect(applySchema(db, [notes], { confirmDestructive: false, nowIso: LATER }).changes).toEqual([]);
  });

  it("refuses a same-named table that does not match, even with confirm_destructive", () => {
    current = openTestDb();
    const { db } = current;
    db.run(`CREATE TABLE notes (id TEXT PRIMARY KEY, title INTEGER, extra TEXT)`);
    const before = dumpDatabase(db);
    const plan = planSchema(db, [notes], { confirmDestructive: true });
    expect(plan.blocked).toBe(true);
    expect(plan.conflicts).toHaveLength(1);
    const description = plan.conflicts[0]?.description ?? "";
    expect(plan.conflicts[0]?.kind).toBe("foreign_table");
    expect(description).toContain("table notes already exists but was not created from this declaration");
    expect(description).toContain("it is not a STRICT table");
    expect(description).toContain("column title is INTEGER, expected TEXT NOT NULL");
    expect(description).toContain("unexpected column extra");
    expect(description).toContain("index notes_title_idx is missing");
    expect(formatPlan(plan)).toEndWith("blocked: 1 change(s) cannot be applied until fixed by hand");
    expect(() => applySchema(db, [notes], { confirmDestructive: true, nowIso: NOW })).toThrow(SchemaBlockedError);
    expect(dumpDatabase(db)).toBe(before);
  });

  it("ignores undeclared hand-made tables and internal tables", () => {
    current = openTestDb();
    const { db } = current;
    db.run("CREATE TABLE legacy (x TEXT)");
    const plan = applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    expect(plan.changes.map((c) => c.kind)).toEqual(["create_table"]);
    expect(applySchema(db, [], { confirmDestructive: true, nowIso: LATER }).changes.map((c) => [c.kind, c.table])).toEqual([["drop_table", "notes"]]);
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('legacy', '_schema_history', '_latchkey_meta') ORDER BY name").all())
      .toEqual([{ name: "_latchkey_meta" }, { name: "_schema_history" }, { name: "legacy" }]);
  });
});

describe("a database edited by hand after an apply", () => {
  it("reports the drift as a conflict instead of diffing against a stale snapshot", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    db.run("DROP INDEX notes_title_idx");
    db.run(`ALTER TABLE notes ADD COLUMN "sneaky" TEXT`);
    const plan = planSchema(db, [notes], { confirmDestructive: true });
    expect(plan.changes.map((c) => [c.kind, c.conflict])).toEqual([["schema_drift", true]]);
    expect(plan.changes[0]?.description).toBe(
      "table notes was changed outside Latchkey (unexpected column sneaky; index notes_title_idx is missing): change it back by hand, or make it match the declaration",
    );
  });

  it("adopts a hand edit that makes the table match the new declaration", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    db.run(`ALTER TABLE notes ADD COLUMN "body" TEXT`);
    const v2 = table("notes", [...notes.columns, col("body", "text")]);
    const plan = applySchema(db, [v2], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => c.kind)).toEqual(["adopt_table"]);
    expect(planSchema(db, [v2], { confirmDestructive: false }).changes).toEqual([]);
  });

  it("detects a table dropped by hand and lets an undeclared one be forgotten", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    db.run("DROP TABLE notes");
    expect(planSchema(db, [notes], { confirmDestructive: true }).conflicts.map((c) => c.kind)).toEqual(["schema_drift"]);
    expect(applySchema(db, [], { confirmDestructive: false, nowIso: LATER }).changes.map((c) => c.kind)).toEqual(["forget_table"]);
    expect(applySchema(db, [notes], { confirmDestructive: false, nowIso: LATER }).changes.map((c) => c.kind)).toEqual(["create_table"]);
  });

  it("treats an unreadable snapshot as missing and re-verifies the live tables", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    db.run("UPDATE _latchkey_meta SET value = 'not json' WHERE key = 'model'");
    expect(planSchema(db, [notes], { confirmDestructive: false }).changes.map((c) => c.kind)).toEqual(["adopt_table"]);
  });
});

describe("internal tables", () => {
  it("are never dropped, even when a hand-edited snapshot lists one", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [notes], { confirmDestructive: false, nowIso: NOW });
    const stored = db.query("SELECT value FROM _latchkey_meta WHERE key = 'model'").get() as { value: string };
    const model = JSON.parse(stored.value) as { tables: Record<string, unknown>[] };
    model.tables.push({ ...model.tables[0], name: "_sessions" });
    db.query("UPDATE _latchkey_meta SET value = ? WHERE key = 'model'").run(JSON.stringify(model));
    const plan = applySchema(db, [notes], { confirmDestructive: true, nowIso: LATER });
    expect(plan.changes).toEqual([]);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = '_sessions'").get()).toEqual({ name: "_sessions" });
  });

  it("cannot be declared", () => {
    expect(() => planSchema(null, [table("_sessions", [])], { confirmDestructive: true })).toThrow(/reserved/);
  });
});
