import { afterEach, describe, expect, it } from "bun:test";
import { applySchema, formatPlan, planSchema, SchemaBlockedError } from "../../src/storage/schema/index.ts";
import { col, columnNames, dumpDatabase, historyRows, insertRow, LATER, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

const authors = table("authors", [col("name", "string", { required: true })]);
const postsV1 = table("posts", [
  col("author", "ref", { refTable: "authors", onDelete: "cascade" }),
  col("title", "string", { required: true, index: true }),
  col("body", "text"),
  col("views", "text"),
  col("status", "enum", { values: ["draft", "live", "archived"], required: true, hasDefault: true, default: "draft" }),
]);
const scratch = table("scratch", [col("note", "text")]);

/** posts.body dropped, views text -> int, status loses 'archived', scratch dropped, posts.rank required without default. */
const postsV2 = table("posts", [
  col("author", "ref", { refTable: "authors", onDelete: "cascade" }),
  col("title", "string", { required: true, index: true }),
  col("views", "int"),
  col("status", "enum", { values: ["draft", "live"], required: true, hasDefault: true, default: "draft" }),
  col("rank", "int", { required: true }),
]);

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

function seeded(): TestDb {
  current = openTestDb();
  const { db } = current;
  applySchema(db, [authors, postsV1, scratch], { confirmDestructive: false, nowIso: NOW });
  insertRow(db, "authors", "a1", { name: "Ada" });
  insertRow(db, "posts", "p1", { author: "a1", title: "one", body: "b1", views: "12", status: "live" });
  insertRow(db, "posts", "p2", { author: "a1", title: "two", body: null, views: "7", status: "archived" });
  insertRow(db, "scratch", "s1", { note: "tmp" });
  return current;
}

describe("destructive changes without confirm_destructive", () => {
  it("blocks the plan, lists every change and leaves schema, data and history untouched", () => {
    const { db } = seeded();
    const before = dumpDatabase(db);
    const plan = planSchema(db, [authors, postsV2], { confirmDestructive: false });
    expect(plan.blocked).toBe(true);
    expect(plan.conflicts).toEqual([]);
    expect(plan.destructive.map((c) => c.description)).toEqual([
      "change column posts.views: type text -> int; values of 2 rows are converted with CAST to INTEGER",
      "change enum posts.status: remove 'archived' (1 row); rows with a value no longer allowed (1 row) are set to the default 'draft'",
      "add required column posts.rank (int required) without a default; existing rows (2 rows) get 0",
      "drop column posts.body (1 row has a value)",
      "drop table scratch (1 row)",
    ]);
    expect(plan.destructive.map((c) => c.kind)).toEqual(["change_type", "narrow_enum", "add_required_column", "drop_column", "drop_table"]);

    let error: unknown;
    try {
      applySchema(db, [authors, postsV2], { confirmDestructive: false, nowIso: LATER });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SchemaBlockedError);
    expect((error as SchemaBlockedError).plan.destructive).toHaveLength(5);
    expect(String(error)).toContain("drop column posts.body (1 row has a value)");
    expect(dumpDatabase(db)).toBe(before);
  });

  it("prints one line per change with destructive ones marked", () => {
    const { db } = seeded();
    const plan = planSchema(db, [authors, postsV2], { confirmDestructive: false });
    expect(plan.planId).toMatch(/^[0-9a-f]{12}$/);
    const text = formatPlan(plan);
    const lines = text.split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe("! change column posts.views: type text -> int; values of 2 rows are converted with CAST to INTEGER  [destructive]");
    expect(lines[5]).toBe(`blocked: 5 destructive change(s) need \`confirm_destructive: ${plan.planId}\``);
    expect(lines[6]).toBe(`plan id: ${plan.planId}`);
    expect(formatPlan(planSchema(db, [authors, postsV1, scratch], { confirmDestructive: false }))).toBe("schema is up to date");
  });
});

describe("destructive changes with confirm_destructive", () => {
  it("applies them in one go and keeps the remaining rows and columns", () => {
    const { db } = seeded();
    const plan = applySchema(db, [authors, postsV2], { confirmDestructive: true, nowIso: LATER });
    expect(plan.blocked).toBe(false);
    expect(plan.destructive).toHaveLength(5);
    expect(columnNames(db, "posts")).toEqual(["id", "created_at", "updated_at", "author", "title", "views", "status", "rank"]);
    expect(db.query("SELECT id, created_at, author, title, views, status, rank FROM posts ORDER BY id").all()).toEqual([
      { id: "p1", created_at: NOW, author: "a1", title: "one", views: 12, status: "live", rank: 0 },
      { id: "p2", created_at: NOW, author: "a1", title: "two", views: 7, status: "draft", rank: 0 },
    ]);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'scratch'").get()).toBeNull();
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'posts' AND name NOT LIKE 'sqlite_%' ORDER BY name").all())
      .toEqual([{ name: "posts_author_idx" }, { name: "posts_title_idx" }]);

    const history = historyRows(db).filter((h) => h.applied_at === LATER);
    expect(history.map((h) => [h.kind, h.destructive])).toEqual([
      ["change_type", 1], ["narrow_enum", 1], ["add_required_column", 1], ["drop_column", 1], ["drop_table", 1],
    ]);
    expect(history[0]?.sql).toContain('CREATE TABLE "_new_posts"');
    expect(history[1]?.sql).toBe('-- done by the rebuild of "posts" recorded above');

    expect(() => insertRow(db, "posts", "p3", { title: "t", status: "archived", rank: 1 })).toThrow(/CHECK constraint failed/);
    expect(() => insertRow(db, "posts", "p3", { author: "ghost", title: "t", rank: 1 })).toThrow(/FOREIGN KEY constraint failed/);
    db.run("DELETE FROM authors WHERE id = 'a1'");
    expect(db.query("SELECT count(*) AS n FROM posts").get()).toEqual({ n: 0 });
    expect(applySchema(db, [authors, postsV2], { confirmDestructive: true, nowIso: LATER }).changes).toEqual([]);
  });

  it("refuses to narrow an enum without a default while rows still use a removed value", () => {
    current = openTestDb();
    const { db } = current;
    const v1 = table("tasks", [col("state", "enum", { values: ["open", "done", "wontfix"] })]);
    applySchema(db, [v1], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "tasks", "t1", { state: "wontfix" });
    insertRow(db, "tasks", "t2", { state: "open" });
    const before = dumpDatabase(db);
    const v2 = table("tasks", [col("state", "enum", { values: ["open", "done"] })]);
    const plan = planSchema(db, [v2], { confirmDestructive: true });
    expect(plan.blocked).toBe(true);
    expect(plan.conflicts.map((c) => c.description)).toEqual([
      "change enum tasks.state: remove 'wontfix' (1 row); rows with a value no longer allowed (1 row) cannot be kept and there is no default: change them first",
    ]);
    expect(() => applySchema(db, [v2], { confirmDestructive: true, nowIso: LATER })).toThrow(SchemaBlockedError);
    expect(dumpDatabase(db)).toBe(before);

    db.run("UPDATE tasks SET state = 'done' WHERE id = 't1'");
    applySchema(db, [v2], { confirmDestructive: true, nowIso: LATER });
    expect(db.query("SELECT id, state FROM tasks ORDER BY id").all()).toEqual([{ id: "t1", state: "done" }, { id: "t2", state: "open" }]);
  });

  it("makes an optional column required, filling existing NULLs with its default", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, [table("items", [col("qty", "int")])], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "items", "i1", { qty: 4 });
    insertRow(db, "items", "i2", { qty: null });
    const v2 = table("items", [col("qty", "int", { required: true, hasDefault: true, default: 1 })]);
    const plan = planSchema(db, [v2], { confirmDestructive: false });
    expect(plan.destructive.map((c) => c.description)).toEqual([
      "change column items.qty: becomes required; NULLs (1 row) are set to 1; default none -> 1",
    ]);
    applySchema(db, [v2], { confirmDestructive: true, nowIso: LATER });
    expect(db.query("SELECT id, qty FROM items ORDER BY id").all()).toEqual([{ id: "i1", qty: 4 }, { id: "i2", qty: 1 }]);
  });

  it("changes a reference's on_delete through a rebuild, blocking a new target that rows do not exist in", () => {
    current = openTestDb();
    const { db } = current;
    const teams = table("teams", [col("name", "string")]);
    const v1 = table("members", [col("team", "ref", { refTable: "authors", onDelete: "restrict" })]);
    applySchema(db, [authors, teams, v1], { confirmDestructive: false, nowIso: NOW });
    insertRow(db, "authors", "a1", { name: "Ada" });
    insertRow(db, "members", "m1", { team: "a1" });
    expect(() => db.run("DELETE FROM authors")).toThrow(/FOREIGN KEY constraint failed/);

    const retarget = table("members", [col("team", "ref", { refTable: "teams", onDelete: "restrict" })]);
    const blocked = planSchema(db, [authors, teams, retarget], { confirmDestructive: true });
    expect(blocked.conflicts.map((c) => c.description)).toEqual([
      "change column members.team: reference authors (on delete restrict) -> teams (on delete restrict); rows pointing at ids missing from teams (1 row): clear or fix them first",
    ]);

    const cascade = table("members", [col("team", "ref", { refTable: "authors", onDelete: "cascade" })]);
    const plan = planSchema(db, [authors, teams, cascade], { confirmDestructive: false });
    expect(plan.destructive.map((c) => c.kind)).toEqual(["change_reference"]);
    applySchema(db, [authors, teams, cascade], { confirmDestructive: true, nowIso: LATER });
    db.run("DELETE FROM authors");
    expect(db.query("SELECT count(*) AS n FROM members").get()).toEqual({ n: 0 });
  });
});
