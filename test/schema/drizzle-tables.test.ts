import { afterEach, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { applySchema, buildDrizzleTables } from "../../src/storage/schema/index.ts";
import { col, NOW, openTestDb, table, type TestDb } from "./helpers.ts";

const users = table("users", [col("nickname", "string")], { authTable: true });
const events = table("events", [
  col("owner", "ref", { refTable: "users", onDelete: "cascade", required: true }),
  col("public", "bool", { required: true, hasDefault: true, default: false }),
  col("payload", "json"),
  col("at", "timestamp"),
  col("weight", "float"),
  col("count", "int"),
  col("kind", "enum", { values: ["a", "b"] }),
]);

let current: TestDb | null = null;
afterEach(() => {
  current?.close();
  current = null;
});

describe("buildDrizzleTables", () => {
  it("exposes every declared table with built-in and internal auth columns", () => {
    const tables = buildDrizzleTables([users, events]);
    expect(Object.keys(tables)).toEqual(["users", "events"]);
    const usersTable = tables.users;
    if (!usersTable) throw new Error("users table missing");
    for (const name of ["id", "created_at", "updated_at", "email", "_email_canonical", "email_verified", "password_hash", "_password_version", "nickname"]) {
      expect(usersTable[name]?.name).toBe(name);
    }
  });

  it("reads and writes exactly what SQLite stores (0/1, JSON text)", () => {
    current = openTestDb();
    applySchema(current.db, [users, events], { confirmDestructive: false, nowIso: NOW });
    const eventsTable = buildDrizzleTables([users, events]).events;
    const usersTable = buildDrizzleTables([users, events]).users;
    if (!usersTable || !eventsTable) throw new Error("tables missing");
    const orm = drizzle(current.db);
    orm.insert(usersTable).values({ id: "u1", created_at: NOW, updated_at: NOW, email: "a@x.io", _email_canonical: "a@x.io", password_hash: "h" }).run();
    const row = orm.insert(eventsTable).values({
      id: "e1", created_at: NOW, updated_at: NOW, owner: "u1", public: 1, payload: '{"n":1}', at: 1, weight: 0.5, count: 3, kind: "b",
    }).returning().get();
    expect(row).toMatchObject({ public: 1, payload: '{"n":1}' });
    expect(current.db.query("SELECT public, payload FROM events").get()).toEqual({ public: 1, payload: '{"n":1}' });
    expect(orm.select().from(usersTable).get()).toMatchObject({ email_verified: 0, _password_version: 1 });
  });
});
