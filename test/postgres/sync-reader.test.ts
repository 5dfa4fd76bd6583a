/**
 * The tests' synchronous row reader on PostgreSQL (`pgSyncDb`, test/helpers/engine.ts): a worker
 * thread runs each statement while the caller blocks, so row assertions read the same on both engines.
 * It must answer with the rows as bun:sqlite would, count changed rows, run scripts, throw on errors
 * (never answer an empty result), and be quick enough for hundreds of reads per file.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { pgSyncDb, type SyncRowReader } from "../helpers/engine.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";

describe.skipIf(PG_SKIP_REASON !== null)("pgSyncDb, the synchronous row reader on PostgreSQL", () => {
  let db: TestDatabase;
  let r: SyncRowReader;
  beforeAll(async () => {
    db = await createTestDatabase({ max: "3" });
    await db.sql.unsafe(`CREATE SCHEMA "latchkey_reader"; CREATE TABLE "latchkey_reader".t (id TEXT PRIMARY KEY, n BIGINT, b BYTEA, note TEXT)`);
    r = pgSyncDb(db.url, "latchkey_reader");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("writes, counts changed rows and reads them back with numbers, nulls and bytes as bun:sqlite gives them", () => {
    expect(r.query("INSERT INTO t (id, n, b, note) VALUES (?, ?, ?, ?)").run("a", 7, new Uint8Array([0, 255, 16]), "it's")).toEqual({ changes: 1 });
    expect(r.run("INSERT INTO t (id, n, note) VALUES (?1, ?2, NULL), ('c', ?2, '?')", "b", 9)).toEqual({ changes: 2 });
    expect(r.query("UPDATE t SET n = n + 1 WHERE n = ?").run(9)).toEqual({ changes: 2 });
    expect(r.query("SELECT id, n, b, note FROM t WHERE id = ?").get("a")).toEqual({ id: "a", n: 7, b: new Uint8Array([0, 255, 16]), note: "it's" });
    expect(r.query("SELECT id, n, note FROM t ORDER BY id").all()).toEqual([
      { id: "a", n: 7, note: "it's" },
      { id: "b", n: 10, note: null },
      { id: "c", n: 10, note: "?" },
    ]);
    expect(r.query("SELECT id FROM t WHERE id = ?").get("nobody")).toBeNull();
    expect(r.query("SELECT id FROM t WHERE id = ?").all("nobody")).toEqual([]);
  });

  it("runs a script of several statements", () => {
    r.exec("DELETE FROM t WHERE id = 'c'; INSERT INTO t (id, n) VALUES ('d', 1)");
    expect(r.query("SELECT id FROM t ORDER BY id").all().map((x) => x.id)).toEqual(["a", "b", "d"]);
  });

  it("throws the database's error instead of answering, and keeps working after it", () => {
    expect(() => r.query("SELECT nope FROM t").all()).toThrow(/column "nope" does not exist/);
    expect(() => r.query("INSERT INTO t (id) VALUES (?)").run("a")).toThrow(/duplicate key/);
    expect(() => pgSyncDb(db.url, "latchkey_no_such_schema").query("SELECT 1 AS x FROM t").get()).toThrow(/relation "t" does not exist/);
    expect(r.query("SELECT count(*)::int AS c FROM t").get()).toEqual({ c: 3 });
  });

  it("keeps reading the project's schema after its connection was closed under it (a fresh session)", async () => {
    expect(r.query("SELECT count(*)::int AS c FROM t").get()).toEqual({ c: 3 });
    await db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
    await Bun.sleep(100);
    // The client reconnects by itself: the new session must still read the project's schema.
    expect(r.query("SELECT count(*)::int AS c FROM t").get()).toEqual({ c: 3 });
  });

  it("sees what another connection committed, and answers 300 reads in well under 3 s", async () => {
    await db.sql.unsafe(`INSERT INTO "latchkey_reader".t (id, n) VALUES ('e', 5)`);
    expect(r.query("SELECT n FROM t WHERE id = 'e'").get()).toEqual({ n: 5 });
    const t0 = performance.now();
    for (let i = 0; i < 300; i++) expect(r.query("SELECT n FROM t WHERE id = ?").get("e")).toEqual({ n: 5 });
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
