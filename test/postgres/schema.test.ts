/**
 * The PostgreSQL engine's schema side against a real PostgreSQL (test/helpers/postgres.ts): the
 * shared planner's migrations, plan ids identical to SQLite's, destructive changes refused with
 * nothing changed, drift found by introspection, one schema per project, and a plan applied once
 * when several connections apply it at the same time.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { applySchema, planSchema, SchemaApplyError, SchemaBlockedError } from "../../src/storage/schema/index.ts";
import type { TableDef } from "../../src/config/types.ts";
import { applyPostgresSchema, planPostgresSchema, PostgresSchemaError } from "../../src/storage/postgres/schema.ts";
import { readPostgresTables } from "../../src/storage/postgres/introspect.ts";
import { projectSchemaName } from "../../src/storage/postgres/url.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";
import { col, LATER, NOW, openTestDb, table, insertRow } from "../schema/helpers.ts";

const PROJECT = "demo-app";
const SCHEMA = "latchkey_demo_app";
const notesV1 = table("notes", [col("title", "string", { required: true })]);

let db: TestDatabase | null = null;
afterEach(async () => {
  await db?.drop();
  db = null;
});

async function fresh(): Promise<TestDatabase> {
  db = await createTestDatabase();
  return db;
}

async function apply(sql: SQL, tables: TableDef[], confirm: boolean | string = false, nowIso = LATER) {
  return applyPostgresSchema(sql, PROJECT, tables, { confirmDestructive: confirm, nowIso });
}

async function insert(sql: SQL, tableName: string, id: string, values: Record<string, string | number | null> = {}): Promise<void> {
  const row = { id, created_at: NOW, updated_at: NOW, ...values };
  await sql`INSERT INTO ${sql(SCHEMA)}.${sql(tableName)} ${sql(row)}`;
}

async function rows(sql: SQL, query: string): Promise<Record<string, unknown>[]> {
  return [...((await sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL search_path TO "${SCHEMA}"`);
    return await tx.unsafe(query);
  })) as Record<string, unknown>[])];
}

async function history(sql: SQL) {
  return rows(sql, "SELECT applied_at, kind, table_name, column_name, destructive, description, sql FROM _schema_history ORDER BY id");
}

/** Everything observable about the project's schema: tables, columns, constraints, indexes and rows. */
async function dump(sql: SQL): Promise<string> {
  const tables = [...(await readPostgresTables(sql, SCHEMA)).values()].sort((a, b) => a.name.localeCompare(b.name));
  const data: Record<string, unknown[]> = {};
  for (const t of tables) {
    data[t.name] = (await rows(sql, `SELECT * FROM "${t.name}"`)).map((r) => JSON.stringify(r)).sort();
  }
  return JSON.stringify({ tables, data });
}

/** The same declarations planned by the SQLite engine, for plan-id comparisons. */
function sqlitePlan(steps: TableDef[][], seed: (db: ReturnType<typeof openTestDb>["db"]) => void, confirm: boolean | string = false) {
  const t = openTestDb();
  try {
    for (const [i, tables] of steps.entries()) {
      if (i === steps.length - 1) return planSchema(t.db, tables, { confirmDestructive: confirm });
      applySchema(t.db, tables, { confirmDestructive: false, nowIso: NOW });
      if (i === 0) seed(t.db);
    }
    throw new Error("no steps");
  } finally {
    t.close();
  }
}

describe.skipIf(PG_SKIP_REASON !== null)("PostgreSQL schema engine", () => {
  it("names a project's schema latchkey_<id with - as _> and refuses ids PostgreSQL would cut", () => {
    expect(projectSchemaName("demo-app")).toBe("latchkey_demo_app");
    expect(projectSchemaName("a1-b2-c3")).toBe("latchkey_a1_b2_c3");
    expect(projectSchemaName("x".repeat(54))).toHaveLength(63);
    expect(() => projectSchemaName("x".repeat(55))).toThrow(/too long for PostgreSQL/);
  });

  it("creates the schema with the internal tables on first apply, records it, and applies nothing the second time", async () => {
    const { sql } = await fresh();
    expect((await planPostgresSchema(sql, PROJECT, [notesV1], { confirmDestructive: false })).changes.map((c) => c.kind)).toEqual(["create_table"]);
    // Planning never writes: still no schema.
    expect(await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${SCHEMA}`).toHaveLength(0);

    const plan = await apply(sql, [notesV1], false, NOW);
    expect(plan.changes.map((c) => `${c.kind} ${c.table}`)).toEqual(["create_table notes"]);
    const internal = (await sql`SELECT table_name FROM information_schema.tables WHERE table_schema = ${SCHEMA} ORDER BY 1`).map((r: { table_name: string }) => r.table_name);
    expect(internal).toEqual([
      "_audit", "_console_sessions", "_email_changes", "_jwt_secrets", "_key_rotations", "_latchkey_meta", "_link_tokens", "_outbox", "_rate_limits",
      "_refresh_rotated", "_refresh_tokens", "_schema_history", "_sessions", "_sessions_unverified", "_settings", "_settings_version", "_signing_keys", "_user_status", "notes",
    ]);
    const meta = await rows(sql, "SELECT key, value FROM _latchkey_meta WHERE key <> 'model' ORDER BY key");
    expect(meta).toEqual([
      { key: "created_at", value: NOW }, { key: "format", value: "latchkey" },
      { key: "internal_sql_sha256", value: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { key: "project_id", value: PROJECT }, { key: "schema_version", value: "1" },
    ]);
    const h = await history(sql);
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ applied_at: NOW, kind: "create_table", table_name: "notes", destructive: "0" });
    expect(String(h[0]?.sql)).toContain(`CREATE TABLE "notes"`);
    expect(String(h[0]?.sql)).not.toContain("STRICT");

    expect((await apply(sql, [notesV1])).changes).toEqual([]);
    expect(await history(sql)).toHaveLength(1);
    expect((await planPostgresSchema(sql, PROJECT, [notesV1], { confirmDestructive: false })).changes).toEqual([]);
  });

  it("reads back every column kind it creates as matching (no false drift): enum, bool, ref, defaults, uniques", async () => {
    const { sql } = await fresh();
    const users = table("users", [col("name", "string")], { authTable: true });
    const rich = table("posts", [
      col("title", "string", { required: true, hasDefault: true, default: "it's new" }),
      col("state", "enum", { values: ["draft", "live, public"], hasDefault: true, default: "draft" }),
      col("pinned", "bool", { hasDefault: true, default: true }),
      col("score", "float", { hasDefault: true, default: -1.5 }),
      col("rank", "int", { hasDefault: true, default: -2 }),
      col("author", "ref", { refTable: "users", onDelete: "cascade" }),
      col("editor", "ref", { refTable: "users", onDelete: "set_null" }),
      col("slug", "string", { unique: true }),
      col("published", "datetime", { hasDefault: true, default: "now" }),
    ], { uniques: [["title", "slug"]] });
    await apply(sql, [users, rich]);
    expect((await planPostgresSchema(sql, PROJECT, [users, rich], { confirmDestructive: false })).changes).toEqual([]);
    await insert(sql, "users", "u1", { email: "a@example.com", _email_canonical: "a@example.com", password_hash: "x" });
    await insert(sql, "posts", "p1", { author: "u1" });
    expect(await rows(sql, "SELECT title, state, pinned, score, rank FROM posts")).toEqual([
      { title: "it's new", state: "draft", pinned: "1", score: -1.5, rank: "-2" },
    ]);
    // The CHECKs and foreign keys are real.
    await expect(insert(sql, "posts", "p2", { state: "gone" })).rejects.toThrow(/check constraint/);
    await expect(insert(sql, "posts", "p3", { author: "nobody" })).rejects.toThrow(/foreign key/);
  });

  it("applies a new table, a nullable column, a defaulted column and an index without confirmation, keeping rows", async () => {
    const { sql } = await fresh();
    await apply(sql, [notesV1], false, NOW);
    await insert(sql, "notes", "n1", { title: "first" });
    await insert(sql, "notes", "n2", { title: "second" });
    const tags = table("tags", [col("label", "string", { unique: true })]);
    const notesV2 = table("notes", [
      col("title", "string", { required: true, index: true }),
      col("body", "text"),
      col("priority", "int", { required: true, hasDefault: true, default: 3 }),
      col("pinned", "bool", { hasDefault: true, default: false }),
    ]);
    const plan = await apply(sql, [notesV2, tags]);
    expect(plan.blocked).toBe(false);
    expect(plan.changes.map((c) => `${c.kind} ${c.table}${c.column ? `.${c.column}` : ""}`)).toEqual([
      "create_table tags", "add_column notes.body", "add_column notes.priority", "add_column notes.pinned", "add_index notes.title",
    ]);
    expect(await rows(sql, "SELECT id, title, body, priority, pinned FROM notes ORDER BY id")).toEqual([
      { id: "n1", title: "first", body: null, priority: "3", pinned: "0" },
      { id: "n2", title: "second", body: null, priority: "3", pinned: "0" },
    ]);
    const live = await readPostgresTables(sql, SCHEMA);
    expect(live.get("notes")?.indexes.map((i) => i.name)).toEqual(["notes_title_idx"]);
    expect(live.get("tags")?.indexes).toEqual([{ name: "tags_label_unique", unique: true, columns: ["label"] }]);
    const h = (await history(sql)).filter((r) => r.applied_at === LATER);
    expect(h.map((r) => [r.kind, r.table_name, r.column_name, r.destructive])).toEqual([
      ["create_table", "tags", null, "0"], ["add_column", "notes", "body", "0"], ["add_column", "notes", "priority", "0"],
      ["add_column", "notes", "pinned", "0"], ["add_index", "notes", "title", "0"],
    ]);
    expect(h[2]?.sql).toBe(`ALTER TABLE "notes" ADD COLUMN "priority" BIGINT NOT NULL DEFAULT 3`);
    expect(h[2]?.description).toBe("add column notes.priority (int required default 3); existing rows get 3");
    expect((await planPostgresSchema(sql, PROJECT, [notesV2, tags], { confirmDestructive: false })).changes).toEqual([]);
  });

  it("refuses destructive changes with nothing changed, under the same plan id as SQLite, then applies them once confirmed", async () => {
    const { sql } = await fresh();
    const v1 = table("notes", [col("title", "string", { required: true }), col("body", "text")]);
    const v2 = table("notes", [col("title", "string", { required: true }), col("words", "int", { required: true })]);
    await apply(sql, [v1], false, NOW);
    await insert(sql, "notes", "n1", { title: "a", body: "x" });
    await insert(sql, "notes", "n2", { title: "b", body: null });
    const before = await dump(sql);
    const historyBefore = await history(sql);

    const planned = await planPostgresSchema(sql, PROJECT, [v2], { confirmDestructive: false });
    expect(planned.blocked).toBe(true);
    expect(planned.destructive.map((c) => c.description)).toEqual([
      "add required column notes.words (int required) without a default; existing rows (2 rows) get 0",
      "drop column notes.body (1 row has a value)",
    ]);
    const onSqlite = sqlitePlan([[v1], [v2]], (d) => {
      insertRow(d, "notes", "n1", { title: "a", body: "x" });
      insertRow(d, "notes", "n2", { title: "b", body: null });
    });
    expect(planned.planId).not.toBeNull();
    expect(planned.planId).toBe(onSqlite.planId);
    expect(planned.changes).toEqual(onSqlite.changes);

    const refused = await apply(sql, [v2]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SchemaBlockedError);
    expect((refused as SchemaBlockedError).plan.planId).toBe(planned.planId);
    const wrongId = await apply(sql, [v2], "0123456789ab").catch((e: unknown) => e);
    expect(wrongId).toBeInstanceOf(SchemaBlockedError);
    expect(await dump(sql)).toBe(before);
    expect(await history(sql)).toEqual(historyBefore);

    const applied = await apply(sql, [v2], planned.planId as string);
    expect(applied.blocked).toBe(false);
    expect(await rows(sql, "SELECT id, title, words FROM notes ORDER BY id")).toEqual([
      { id: "n1", title: "a", words: "0" }, { id: "n2", title: "b", words: "0" },
    ]);
    const h = (await history(sql)).filter((r) => r.applied_at === LATER);
    expect(h.map((r) => [r.kind, r.column_name, r.destructive])).toEqual([["add_required_column", "words", "1"], ["drop_column", "body", "1"]]);
    expect((await planPostgresSchema(sql, PROJECT, [v2], { confirmDestructive: false })).changes).toEqual([]);
  });

  it("narrows an enum (a table rebuild), setting rows outside it to the default once confirmed", async () => {
    const { sql } = await fresh();
    const v1 = table("tasks", [col("state", "enum", { values: ["open", "doing", "done"], hasDefault: true, default: "open" })]);
    const v2 = table("tasks", [col("state", "enum", { values: ["open", "done"], hasDefault: true, default: "open" })]);
    await apply(sql, [v1], false, NOW);
    await insert(sql, "tasks", "t1", { state: "doing" });
    await insert(sql, "tasks", "t2", { state: "done" });
    const planned = await planPostgresSchema(sql, PROJECT, [v2], { confirmDestructive: false });
    expect(planned.changes.map((c) => [c.kind, c.destructive])).toEqual([["narrow_enum", true]]);
    await apply(sql, [v2], planned.planId as string);
    expect(await rows(sql, "SELECT id, state FROM tasks ORDER BY id")).toEqual([{ id: "t1", state: "open" }, { id: "t2", state: "done" }]);
    await expect(insert(sql, "tasks", "t3", { state: "doing" })).rejects.toThrow(/check constraint/);
    expect((await planPostgresSchema(sql, PROJECT, [v2], { confirmDestructive: false })).changes).toEqual([]);
  });

  it("rebuilds a table other tables point at, keeping their foreign keys on the rebuilt table", async () => {
    const { sql } = await fresh();
    const teamsV1 = table("teams", [col("tier", "enum", { values: ["free", "pro"] })]);
    const teamsV2 = table("teams", [col("tier", "enum", { values: ["free", "pro", "max"] })]);
    const members = table("members", [col("team", "ref", { refTable: "teams", onDelete: "cascade" })]);
    await apply(sql, [teamsV1, members], false, NOW);
    await insert(sql, "teams", "t1", { tier: "pro" });
    await insert(sql, "members", "m1", { team: "t1" });
    const plan = await apply(sql, [teamsV2, members]);
    expect(plan.changes.map((c) => [c.kind, c.destructive])).toEqual([["widen_enum", false]]);
    expect((await readPostgresTables(sql, SCHEMA)).get("members")?.foreignKeys).toEqual(["team->teams.id ON DELETE CASCADE"]);
    expect((await planPostgresSchema(sql, PROJECT, [teamsV2, members], { confirmDestructive: false })).changes).toEqual([]);
    await insert(sql, "teams", "t2", { tier: "max" });
    await expect(insert(sql, "members", "m2", { team: "nobody" })).rejects.toThrow(/foreign key/);
    await sql.unsafe(`DELETE FROM "${SCHEMA}"."teams" WHERE id = 't1'`);
    expect(await rows(sql, "SELECT id FROM members")).toEqual([]);
  });

  it("creates tables that point at tables declared after them, or at each other, with real foreign keys and the SQLite plan", async () => {
    const { sql } = await fresh();
    // comments -> posts (declared later), posts <-> pins (each points at the other), posts -> posts.
    const comments = table("comments", [col("post", "ref", { refTable: "posts", onDelete: "cascade" })]);
    const posts = table("posts", [col("pin", "ref", { refTable: "pins", onDelete: "set_null" }), col("parent", "ref", { refTable: "posts", onDelete: "restrict" })]);
    const pins = table("pins", [col("post", "ref", { refTable: "posts", onDelete: "cascade" })]);
    const declared = [comments, posts, pins];
    const planned = await planPostgresSchema(sql, PROJECT, declared, { confirmDestructive: false });
    expect(planned.changes.map((c) => `${c.kind} ${c.table}`)).toEqual(["create_table comments", "create_table posts", "create_table pins"]);
    expect(planned.planId).toBe(sqlitePlan([declared], () => {}).planId);

    await apply(sql, declared, false, NOW);
    const live = await readPostgresTables(sql, SCHEMA);
    expect(live.get("comments")?.foreignKeys).toEqual(["post->posts.id ON DELETE CASCADE"]);
    expect([...(live.get("posts")?.foreignKeys ?? [])].sort()).toEqual(["parent->posts.id ON DELETE RESTRICT", "pin->pins.id ON DELETE SET NULL"]);
    expect(live.get("pins")?.foreignKeys).toEqual(["post->posts.id ON DELETE CASCADE"]);
    // No drift afterwards, and the keys are enforced.
    expect((await planPostgresSchema(sql, PROJECT, declared, { confirmDestructive: false })).changes).toEqual([]);
    await insert(sql, "posts", "p1");
    await insert(sql, "comments", "c1", { post: "p1" });
    await insert(sql, "pins", "n1", { post: "p1" });
    await sql.unsafe(`UPDATE "${SCHEMA}"."posts" SET pin = 'n1' WHERE id = 'p1'`);
    await expect(insert(sql, "comments", "c2", { post: "nobody" })).rejects.toThrow(/foreign key/);
    await expect(sql.unsafe(`UPDATE "${SCHEMA}"."posts" SET pin = 'nobody' WHERE id = 'p1'`)).rejects.toThrow(/foreign key/);
    await sql.unsafe(`DELETE FROM "${SCHEMA}"."pins" WHERE id = 'n1'`);
    expect(await rows(sql, "SELECT id, pin FROM posts")).toEqual([{ id: "p1", pin: null }]);
    await sql.unsafe(`UPDATE "${SCHEMA}"."comments" SET post = 'p1'`);
    await sql.unsafe(`DELETE FROM "${SCHEMA}"."posts" WHERE id = 'p1'`);
    expect(await rows(sql, "SELECT id FROM comments")).toEqual([]);
  });

  it("refuses a unique index over duplicated values as a conflict, even confirmed", async () => {
    const { sql } = await fresh();
    await apply(sql, [notesV1], false, NOW);
    await insert(sql, "notes", "n1", { title: "same" });
    await insert(sql, "notes", "n2", { title: "same" });
    const unique = table("notes", [col("title", "string", { required: true, unique: true })]);
    const plan = await planPostgresSchema(sql, PROJECT, [unique], { confirmDestructive: true });
    expect(plan.conflicts.map((c) => c.description)).toEqual(["add unique index notes_title_unique on notes (title): notes.title has 1 duplicated values: remove the duplicates first"]);
    await expect(apply(sql, [unique], true)).rejects.toBeInstanceOf(SchemaBlockedError);
  });

  it("finds a table changed by hand (drift) and a table it did not create", async () => {
    const { sql } = await fresh();
    await apply(sql, [notesV1], false, NOW);
    await sql.unsafe(`ALTER TABLE "${SCHEMA}"."notes" ADD COLUMN extra TEXT`);
    await sql.unsafe(`CREATE TABLE "${SCHEMA}"."things" (id TEXT PRIMARY KEY)`);
    const plan = await planPostgresSchema(sql, PROJECT, [notesV1, table("things", [])], { confirmDestructive: false });
    expect(plan.changes.map((c) => [c.kind, c.conflict])).toEqual([["schema_drift", true], ["foreign_table", true]]);
    expect(plan.changes[0]?.description).toContain("unexpected column extra");
  });

  it("rolls a failing statement back whole: nothing of the plan stays", async () => {
    const { sql } = await fresh();
    await apply(sql, [notesV1], false, NOW);
    // A hand-made index with the name the new index needs makes its CREATE INDEX fail mid-plan.
    await sql.unsafe(`CREATE INDEX "notes_title_idx" ON "${SCHEMA}"."_outbox" (id)`);
    const beforeFailing = await dump(sql);
    const v2 = table("notes", [col("title", "string", { required: true, index: true }), col("body", "text")]);
    const error = await apply(sql, [v2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaApplyError);
    expect(await dump(sql)).toBe(beforeFailing);
    expect(await history(sql)).toHaveLength(1);
  });

  it("refuses a schema of another project or one that is not Latchkey's, leaving it untouched", async () => {
    const { sql } = await fresh();
    await applyPostgresSchema(sql, "other", [notesV1], { confirmDestructive: false, nowIso: NOW });
    await sql.unsafe(`ALTER SCHEMA latchkey_other RENAME TO ${SCHEMA}`);
    await expect(apply(sql, [notesV1])).rejects.toThrow(new PostgresSchemaError(`schema ${SCHEMA} belongs to project "other", not "${PROJECT}"`));
    await sql.unsafe(`DROP SCHEMA ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}; CREATE TABLE ${SCHEMA}.mine (x int)`);
    await expect(planPostgresSchema(sql, PROJECT, [notesV1], { confirmDestructive: false })).rejects.toThrow(/is not a Latchkey schema/);
    await expect(apply(sql, [notesV1])).rejects.toThrow(/is not a Latchkey schema/);
    expect(await sql`SELECT table_name FROM information_schema.tables WHERE table_schema = ${SCHEMA}`).toEqual([{ table_name: "mine" }]);
  });

  it("three connections applying the same new plan at once apply it once (one history row per change)", async () => {
    const database = await fresh();
    await apply(database.sql, [notesV1], false, NOW);
    const v2 = table("notes", [col("title", "string", { required: true }), col("body", "text")]);
    const clients = [0, 1, 2].map(() => new SQL(database.url, { max: 1 }));
    try {
      const plans = await Promise.all(clients.map((c) => applyPostgresSchema(c, PROJECT, [v2, table("tags", [])], { confirmDestructive: false, nowIso: LATER })));
      const changed = plans.filter((p) => p.changes.length > 0);
      expect(changed).toHaveLength(1);
      expect(changed[0]?.changes.map((c) => c.kind)).toEqual(["create_table", "add_column"]);
      expect((await history(database.sql)).filter((r) => r.applied_at === LATER).map((r) => r.kind)).toEqual(["create_table", "add_column"]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it("three connections creating a new project's schema at once: exactly one creates it", async () => {
    const database = await fresh();
    const clients = [0, 1, 2].map(() => new SQL(database.url, { max: 1 }));
    try {
      const plans = await Promise.all(clients.map((c) => applyPostgresSchema(c, PROJECT, [notesV1], { confirmDestructive: false, nowIso: NOW })));
      expect(plans.map((p) => p.changes.length).sort()).toEqual([0, 0, 1]);
      expect(await history(database.sql)).toHaveLength(1);
      expect(await rows(database.sql, "SELECT count(*)::int AS n FROM _latchkey_meta WHERE key = 'project_id'")).toEqual([{ n: 1 }]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
