import { Database } from "bun:sqlite";
import { afterEach, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { applySchema, planSchema } from "../../src/storage/schema/index.ts";
import { col, insertRow, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

describe("planning on a read-only handle", () => {
  it("plans additive and destructive changes and writes nothing to the file", () => {
    current = openTestDb();
    const { db, path } = current;
    const v1 = [table("notes", [col("title", "string"), col("body", "text")])];
    applySchema(db, v1, { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "notes", "n1", { title: "a", body: "b" });
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    const bytesBefore = readFileSync(path);

    const readonly = new Database(path, { readonly: true });
    try {
      const v2 = [table("notes", [col("title", "string", { unique: true })]), table("tags", [col("label", "string")])];
      const plan = planSchema(readonly, v2, { confirmDestructive: false });
      expect(plan.changes.map((c) => [c.kind, c.table])).toEqual([
        ["create_table", "tags"],
        ["drop_column", "notes"],
        ["add_index", "notes"],
      ]);
      expect(plan.blocked).toBe(true);
    } finally {
      readonly.close();
    }
    expect(readFileSync(path).equals(bytesBefore)).toBe(true);
    expect(readFileSync(`${path}-wal`).length).toBe(0);
    expect(db.query("SELECT count(*) AS n FROM _schema_history").get()).toEqual({ n: 1 });
  });

  it("plans a database without internal tables (nothing applied yet) as all-new tables", () => {
    const bare = new Database(":memory:");
    const plan = planSchema(bare, [table("notes", [col("title", "string")])], { confirmDestructive: false });
    expect(plan.changes.map((c) => c.kind)).toEqual(["create_table"]);
    expect(bare.query("SELECT count(*) AS n FROM sqlite_master").get()).toEqual({ n: 0 });
    bare.close();
  });
});
