import { afterEach, describe, expect, it } from "bun:test";
import type { TableDef } from "../../src/config/types.ts";
import type { SchemaChangeKind } from "../../src/storage/schema/index.ts";
import { applySchema, planSchema, SchemaBlockedError } from "../../src/storage/schema/index.ts";
import { col, dumpDatabase, insertRow, LATER, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

const base = [
  table("notes", [col("title", "string", { required: true }), col("body", "text"), col("kind", "enum", { values: ["a", "b"], hasDefault: true, default: "a" })]),
  table("extra", [col("x", "int")]),
];

/** Each scenario changes one thing; `check` verifies what the confirmed apply left in the database. */
const SCENARIOS: { name: string; kind: SchemaChangeKind; description: string; tables: TableDef[]; check: (t: TestDb) => void }[] = [
  {
    name: "dropping a column",
    kind: "drop_column",
    description: "drop column notes.body (1 row has a value)",
    tables: [table("notes", [col("title", "string", { required: true }), col("kind", "enum", { values: ["a", "b"], hasDefault: true, default: "a" })]), base[1] as TableDef],
    check: ({ db }) => expect(db.query("SELECT id, title, kind FROM notes").all()).toEqual([{ id: "n1", title: "hello", kind: "b" }]),
  },
  {
    name: "changing a type",
    kind: "change_type",
    description: "change column notes.body: type text -> float; values of 1 row are converted with CAST to REAL",
    tables: [table("notes", [col("title", "string", { required: true }), col("body", "float"), col("kind", "enum", { values: ["a", "b"], hasDefault: true, default: "a" })]), base[1] as TableDef],
    check: ({ db }) => expect(db.query("SELECT title, body, kind FROM notes").all()).toEqual([{ title: "hello", body: 2.5, kind: "b" }]),
  },
  {
    name: "narrowing an enum",
    kind: "narrow_enum",
    description: "change enum notes.kind: remove 'b' (1 row); rows with a value no longer allowed (1 row) are set to the default 'a'",
    tables: [table("notes", [col("title", "string", { required: true }), col("body", "text"), col("kind", "enum", { values: ["a"], hasDefault: true, default: "a" })]), base[1] as TableDef],
    check: ({ db }) => expect(db.query("SELECT title, body, kind FROM notes").all()).toEqual([{ title: "hello", body: "2.5", kind: "a" }]),
  },
  {
    name: "dropping a table",
    kind: "drop_table",
    description: "drop table extra (1 row)",
    tables: [base[0] as TableDef],
    check: ({ db }) => {
      expect(db.query("SELECT name FROM sqlite_master WHERE name = 'extra'").get()).toBeNull();
      expect(db.query("SELECT title, body, kind FROM notes").all()).toEqual([{ title: "hello", body: "2.5", kind: "b" }]);
    },
  },
  {
    name: "adding a required column without a default to a non-empty table",
    kind: "add_required_column",
    description: "add required column extra.label (string required) without a default; existing rows (1 row) get ''",
    tables: [base[0] as TableDef, table("extra", [col("x", "int"), col("label", "string", { required: true })])],
    check: ({ db }) => expect(db.query("SELECT x, label FROM extra").all()).toEqual([{ x: 9, label: "" }]),
  },
];

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

function seeded(): TestDb {
  current = openTestDb();
  applySchema(current.db, base, { confirmDestructive: false, nowIso: NOW });
  insertRow(current.db, "notes", "n1", { title: "hello", body: "2.5", kind: "b" });
  insertRow(current.db, "extra", "e1", { x: 9 });
  return current;
}

for (const scenario of SCENARIOS) {
  describe(scenario.name, () => {
    it("is blocked without confirm_destructive, listed, and changes nothing", () => {
      const { db } = seeded();
      const before = dumpDatabase(db);
      const plan = planSchema(db, scenario.tables, { confirmDestructive: false });
      expect(plan.blocked).toBe(true);
      expect(plan.changes.map((c) => [c.kind, c.destructive, c.description])).toEqual([[scenario.kind, true, scenario.description]]);
      expect(() => applySchema(db, scenario.tables, { confirmDestructive: false, nowIso: LATER })).toThrow(SchemaBlockedError);
      expect(dumpDatabase(db)).toBe(before);
    });

    it("is applied with confirm_destructive, keeping the other data", () => {
      const t = seeded();
      const plan = applySchema(t.db, scenario.tables, { confirmDestructive: true, nowIso: LATER });
      expect(plan.changes.map((c) => c.kind)).toEqual([scenario.kind]);
      scenario.check(t);
      expect(planSchema(t.db, scenario.tables, { confirmDestructive: false }).changes).toEqual([]);
    });
  });
}
