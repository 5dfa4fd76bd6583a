import { afterEach, describe, expect, it } from "bun:test";
import { DEFAULT_NOW } from "../../src/config/types.ts";
import { AUTH_BUILTIN_COLUMNS, BUILTIN_COLUMNS, applySchema, createTableSql, indexSql, planSchema } from "../../src/storage/schema/index.ts";
import { col, columnNames, insertRow, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

const users = table("users", [col("name", "string", { required: true }), col("role", "enum", { values: ["admin", "member"], hasDefault: true, default: "member", required: true })], { authTable: true });
const orgs = table("orgs", [col("title", "string", { unique: true }), col("active", "bool", { hasDefault: true, default: true })]);
const notes = table("notes", [
  col("owner", "ref", { refTable: "users", onDelete: "cascade", required: true }),
  col("org", "ref", { refTable: "orgs", onDelete: "set_null" }),
  col("body", "text"),
  col("meta", "json", { hasDefault: true, default: { tags: ["a"] } }),
  col("due", "date", { hasDefault: true, default: DEFAULT_NOW }),
  col("score", "float", { hasDefault: true, default: -1.5 }),
  col("seen_at", "timestamp", { index: true }),
  col("public_id", "uuid"),
], { uniques: [["owner", "body"]] });
const TABLES = [users, orgs, notes];

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

describe("DDL for declared tables", () => {
  it("maps column types, defaults, CHECKs and references to STRICT SQLite DDL with quoted identifiers", () => {
    const sql = createTableSql(notes);
    expect(sql).toStartWith('CREATE TABLE "notes" (');
    expect(sql).toEndWith(") STRICT");
    expect(sql).toContain('"id" TEXT PRIMARY KEY NOT NULL');
    expect(sql).toContain('"created_at" TEXT NOT NULL');
    expect(sql).toContain('"owner" TEXT NOT NULL REFERENCES "users"("id") ON DELETE CASCADE');
    expect(sql).toContain('"org" TEXT REFERENCES "orgs"("id") ON DELETE SET NULL');
    expect(sql).toContain(`"meta" TEXT DEFAULT '{"tags":["a"]}'`);
    expect(sql).toContain('"due" TEXT,');
    expect(sql).toContain('"score" REAL DEFAULT -1.5');
    expect(sql).toContain('"seen_at" INTEGER,');
    expect(sql).toContain('"public_id" TEXT\n');
    expect(createTableSql(orgs)).toContain(`"active" INTEGER DEFAULT 1 CHECK ("active" IN (0,1))`);
    expect(createTableSql(users)).toContain(`"role" TEXT NOT NULL DEFAULT 'member' CHECK ("role" IN ('admin','member'))`);
  });

  it("names unique, plain, ref and compound indexes predictably", () => {
    expect(indexSql(notes)).toEqual([
      'CREATE INDEX "notes_owner_idx" ON "notes" ("owner")',
      'CREATE INDEX "notes_org_idx" ON "notes" ("org")',
      'CREATE INDEX "notes_seen_at_idx" ON "notes" ("seen_at")',
      'CREATE UNIQUE INDEX "notes_owner_body_unique" ON "notes" ("owner", "body")',
    ]);
    expect(indexSql(orgs)).toEqual(['CREATE UNIQUE INDEX "orgs_title_unique" ON "orgs" ("title")']);
    expect(indexSql(users)).toEqual([
      'CREATE UNIQUE INDEX "users__email_canonical_unique" ON "users" ("_email_canonical")',
      'CREATE INDEX "users__created_at_id_idx" ON "users" ("created_at", "id")',
      'CREATE INDEX "users__email_verified_created_at_id_idx" ON "users" ("email_verified", "created_at", "id")',
    ]);
  });

  it("gives the auth table its built-in columns with the declared constraints", () => {
    const sql = createTableSql(users);
    expect(sql).toContain('"email" TEXT NOT NULL');
    expect(sql).toContain('"_email_canonical" TEXT NOT NULL');
    expect(sql).toContain('"email_verified" INTEGER NOT NULL DEFAULT 0 CHECK ("email_verified" IN (0,1))');
    expect(sql).toContain('"password_hash" TEXT NOT NULL');
    expect(sql).toContain('"_password_version" INTEGER NOT NULL DEFAULT 1');
  });
});

describe("a fresh database", () => {
  it("plans one create_table per declared table, all additive", () => {
    const plan = planSchema(null, TABLES, { confirmDestructive: false });
    expect(plan.changes.map((c) => [c.kind, c.table])).toEqual([["create_table", "users"], ["create_table", "orgs"], ["create_table", "notes"]]);
    expect(plan.blocked).toBe(false);
    expect(plan.destructive).toEqual([]);
  });

  it("creates every table with the built-ins, the auth built-ins only on the auth table", () => {
    current = openTestDb();
    const plan = applySchema(current.db, TABLES, { confirmDestructive: false, nowIso: NOW });
    expect(plan.changes).toHaveLength(3);
    expect(columnNames(current.db, "users")).toEqual([...BUILTIN_COLUMNS, ...AUTH_BUILTIN_COLUMNS, "name", "role"]);
    expect(columnNames(current.db, "orgs")).toEqual([...BUILTIN_COLUMNS, "title", "active"]);
    const strict = current.db.query("SELECT name FROM pragma_table_list WHERE strict = 1 AND name IN ('users','orgs','notes') ORDER BY name").all();
    expect(strict).toEqual([{ name: "notes" }, { name: "orgs" }, { name: "users" }]);
  });

  it("rejects a bad enum value and a bad bool through CHECK constraints", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, TABLES, { confirmDestructive: false, nowIso: NOW });
    const auth = { email: "a@x.io", _email_canonical: "a@x.io", password_hash: "h", name: "A" };
    expect(() => insertRow(db, "users", "u1", { ...auth, role: "owner" })).toThrow(/CHECK constraint failed/);
    expect(() => insertRow(db, "orgs", "o1", { active: 2 })).toThrow(/CHECK constraint failed/);
    insertRow(db, "users", "u1", auth);
    insertRow(db, "orgs", "o1", { active: 0 });
    expect(db.query("SELECT role, email_verified, _password_version FROM users").get()).toEqual({ role: "member", email_verified: 0, _password_version: 1 });
  });

  it("enforces NOT NULL, the canonical-email unique index and the declared on_delete actions", () => {
    current = openTestDb();
    const { db } = current;
    applySchema(db, TABLES, { confirmDestructive: false, nowIso: NOW });
    const auth = { email: "a@x.io", _email_canonical: "a@x.io", password_hash: "h", name: "A" };
    insertRow(db, "users", "u1", auth);
    expect(() => insertRow(db, "users", "u2", { ...auth, email: "A@x.io" })).toThrow(/UNIQUE constraint failed: users._email_canonical/);
    expect(() => insertRow(db, "users", "u3", { ...auth, _email_canonical: "b@x.io", name: null })).toThrow(/NOT NULL/);
    insertRow(db, "orgs", "o1");
    insertRow(db, "notes", "n1", { owner: "u1", org: "o1", body: "hello" });
    expect(() => insertRow(db, "notes", "n2", { owner: "nobody" })).toThrow(/FOREIGN KEY constraint failed/);
    expect(db.query("SELECT meta, score, due FROM notes").get()).toEqual({ meta: '{"tags":["a"]}', score: -1.5, due: null });

    db.run("DELETE FROM orgs WHERE id = 'o1'");
    expect(db.query("SELECT org FROM notes WHERE id = 'n1'").get()).toEqual({ org: null });
    db.run("DELETE FROM users WHERE id = 'u1'");
    expect(db.query("SELECT count(*) AS n FROM notes").get()).toEqual({ n: 0 });
  });
});
