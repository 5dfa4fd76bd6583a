import { afterEach, describe, expect, it } from "bun:test";
import { applySchema, planSchema } from "../../src/storage/schema/index.ts";
import { col, insertRow, LATER, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

describe("table rebuilds", () => {
  it("rebuilds a parent table without cascading into its children, and the FK still works afterwards", () => {
    current = openTestDb();
    const { db } = current;
    const parentV1 = table("folders", [col("kind", "enum", { values: ["a", "b"] })]);
    const child = table("files", [col("folder", "ref", { refTable: "folders", onDelete: "cascade", required: true })]);
    applySchema(db, [parentV1, child], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "folders", "f1", { kind: "a" });
    insertRow(db, "files", "x1", { folder: "f1" });
    insertRow(db, "files", "x2", { folder: "f1" });

    const parentV2 = table("folders", [col("kind", "enum", { values: ["a", "b", "c"] })]);
    applySchema(db, [parentV2, child], { confirmDestructive: false, nowIso: LATER });
    expect(db.query("SELECT id FROM files ORDER BY id").all()).toEqual([{ id: "x1" }, { id: "x2" }]);
    expect(db.query(`SELECT "table", "from", on_delete FROM pragma_foreign_key_list('files')`).all()).toEqual([{ table: "folders", from: "folder", on_delete: "CASCADE" }]);
    expect(() => insertRow(db, "files", "x3", { folder: "nope" })).toThrow(/FOREIGN KEY constraint failed/);
    db.run("DELETE FROM folders WHERE id = 'f1'");
    expect(db.query("SELECT count(*) AS n FROM files").get()).toEqual({ n: 0 });
  });

  it("keeps self-references intact through a rebuild", () => {
    current = openTestDb();
    const { db } = current;
    const v1 = table("nodes", [col("parent", "ref", { refTable: "nodes", onDelete: "set_null" }), col("label", "string")]);
    applySchema(db, [v1], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "nodes", "root", { label: "r" });
    insertRow(db, "nodes", "leaf", { parent: "root", label: "l" });
    const v2 = table("nodes", [col("parent", "ref", { refTable: "nodes", onDelete: "set_null" }), col("label", "string", { required: true, hasDefault: true, default: "?" })]);
    const plan = applySchema(db, [v2], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => [c.kind, c.destructive, c.description])).toEqual([
      ["change_column", false, "change column nodes.label: becomes required; default none -> '?'"],
    ]);
    expect(db.query("SELECT id, parent FROM nodes ORDER BY id").all()).toEqual([{ id: "leaf", parent: "root" }, { id: "root", parent: null }]);
    db.run("DELETE FROM nodes WHERE id = 'root'");
    expect(db.query("SELECT parent FROM nodes WHERE id = 'leaf'").get()).toEqual({ parent: null });
  });

  it("makes a required column optional and changes a default without confirmation", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [table("items", [col("qty", "int", { required: true, hasDefault: true, default: 1 })])], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "items", "i1", { qty: 5 });
    const v2 = table("items", [col("qty", "int", { hasDefault: true, default: 2 })]);
    const plan = applySchema(db, [v2], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => c.description)).toEqual(["change column items.qty: becomes optional; default 1 -> 2"]);
    insertRow(db, "items", "i2");
    insertRow(db, "items", "i3", { qty: null });
    expect(db.query("SELECT id, qty FROM items ORDER BY id").all()).toEqual([{ id: "i1", qty: 5 }, { id: "i2", qty: 2 }, { id: "i3", qty: null }]);
  });

  it("records a logical-only type change (both TEXT) without touching the table", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [table("docs", [col("body", "string")])], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "docs", "d1", { body: "x" });
    const sqlBefore = db.query("SELECT sql FROM sqlite_master WHERE name = 'docs'").get();
    const v2 = [table("docs", [col("body", "text")])];
    expect(planSchema(db, v2, { confirmDestructive: false }).destructive.map((c) => c.description)).toEqual(["change column docs.body: type string -> text"]);
    applySchema(db, v2, { confirmDestructive: true, nowIso: LATER });
    expect(db.query("SELECT sql FROM sqlite_master WHERE name = 'docs'").get()).toEqual(sqlBefore);
    expect(planSchema(db, v2, { confirmDestructive: false }).changes).toEqual([]);
  });

  it("fills a new required uuid column with a distinct v4 uuid per existing row", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [table("keys", [col("name", "string")])], { confirmDestructive: false, nowIso: NOW });
    for (const id of ["k1", "k2", "k3"]) insertRow(db, "keys", id);
    const plan = applySchema(db, [table("keys", [col("name", "string"), col("public_id", "uuid", { required: true, unique: true })])], { confirmDestructive: false, nowIso: LATER });
    expect(plan.changes.map((c) => [c.kind, c.destructive])).toEqual([["add_column", false], ["add_index", false]]);
    const ids = (db.query("SELECT public_id FROM keys").all() as { public_id: string }[]).map((r) => r.public_id);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
