import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DbOpenError, INTERNAL_SCHEMA_VERSION, openProjectDb } from "../../src/storage/sqlite/open.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";

const sqlite = sqliteOnly("opens, corrupts and inspects SQLite project files");

const now = "2026-01-01T00:00:00.000Z";
let dir = "";
let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});
const tmp = (): string => (dir = mkdtempSync(join(tmpdir(), "latchkey-db-")));

sqlite.describe("openProjectDb", () => {
  it("sets WAL, synchronous=FULL, foreign keys and a busy timeout, and marks the file", () => {
    const path = join(tmp(), "demo.db");
    const db = openProjectDb(path, { projectId: "demo", nowIso: now });
    const one = (p: string): unknown => Object.values(db.query(`PRAGMA ${p}`).get() as object)[0];
    expect(String(one("journal_mode"))).toBe("wal");
    expect(one("synchronous")).toBe(2);
    expect(one("foreign_keys")).toBe(1);
    expect(Number(one("busy_timeout"))).toBeGreaterThan(0);
    expect(db.query("SELECT value FROM _latchkey_meta WHERE key='format'").get()).toEqual({ value: "latchkey" });
    db.close();
    const again = openProjectDb(path, { projectId: "demo", nowIso: now });
    again.close();
  });

  it("refuses a SQLite file that is not a Latchkey database and leaves it untouched", () => {
    const path = join(tmp(), "demo.db");
    const foreign = new Database(path);
    foreign.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES ('ada');");
    foreign.close();
    const before = readFileSync(path);
    expect(() => openProjectDb(path, { projectId: "demo", nowIso: now })).toThrow(/not a Latchkey database/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("refuses a file that is not SQLite at all and leaves it untouched", () => {
    const path = join(tmp(), "demo.db");
    writeFileSync(path, "this is my thesis, do not overwrite it\n".repeat(200));
    const before = readFileSync(path);
    expect(() => openProjectDb(path, { projectId: "demo", nowIso: now })).toThrow(DbOpenError);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("refuses a corrupt Latchkey database and leaves it untouched", () => {
    const path = join(tmp(), "demo.db");
    const db = openProjectDb(path, { projectId: "demo", nowIso: now });
    db.exec("CREATE TABLE filler(x TEXT)");
    const ins = db.query("INSERT INTO filler VALUES (?)");
    for (let i = 0; i < 400; i++) ins.run("y".repeat(200));
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    const bytes = readFileSync(path);
    expect(statSync(path).size).toBeGreaterThan(8192);
    const page = Math.floor(bytes.length / 4096 / 2) * 4096; // a leaf page of the filler table
    bytes.fill(0xab, page, page + 4096);
    writeFileSync(path, bytes);
    expect(() => openProjectDb(path, { projectId: "demo", nowIso: now })).toThrow(/corrupt|not a readable|malformed/i);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it("refuses a database written by a newer schema version", () => {
    const path = join(tmp(), "demo.db");
    const db = openProjectDb(path, { projectId: "demo", nowIso: now });
    db.query("UPDATE _latchkey_meta SET value = ? WHERE key = 'schema_version'").run(String(INTERNAL_SCHEMA_VERSION + 1));
    db.close();
    expect(() => openProjectDb(path, { projectId: "demo", nowIso: now })).toThrow(/newer Latchkey/);
  });

  it("refuses the database of another project", () => {
    const path = join(tmp(), "demo.db");
    openProjectDb(path, { projectId: "other", nowIso: now }).close();
    expect(() => openProjectDb(path, { projectId: "demo", nowIso: now })).toThrow(/belongs to project "other"/);
  });
});

sqlite.describe("a project that cannot load", () => {
  it("is reported, /readyz answers 503, its routes answer 503, and other projects still serve", async () => {
    inst = await createTestInstance([
      { id: "good", tables: { users: { auth_table: true, columns: {} } } },
      { id: "bad", tables: { users: { auth_table: true, columns: {} } } },
    ]);
    await inst.booted.close();
    const foreign = new Database(join(inst.dataDir, "bad.db"));
    foreign.exec("DROP TABLE IF EXISTS _latchkey_meta; CREATE TABLE mine(x)");
    foreign.close();
    await inst.restart();
    expect(inst.booted.failures.map((f) => f.id)).toEqual(["bad"]);
    const ready = await inst.req("GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe("SERVICE_UNAVAILABLE");
    const bad = await inst.req("POST", "/p/bad/auth/login", { body: { email: "a@b.io", password: "x".repeat(10) } });
    expect(bad.status).toBe(503);
    const good = await inst.req("GET", "/p/good/v1/redirect-origins");
    expect(good.status).toBe(401);
  });

  it("never stores the JWT secret in clear", async () => {
    inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } } }]);
    const p = inst.booted.projects.get("demo")!;
    const secret = Buffer.from(p.jwt.current());
    p.db.exec("PRAGMA wal_checkpoint(FULL)");
    for (const suffix of ["", "-wal"]) {
      const f = join(inst.dataDir, `demo.db${suffix}`);
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch {
        continue;
      }
      expect(bytes.indexOf(secret)).toBe(-1);
    }
  });
});

sqlite.describe("projects loading after the port opens", () => {
  it("answers /healthz at once, 503 on /readyz and on a loading project's routes, then serves once loaded", async () => {
    inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } } }], { boot: { deferLoading: true } });
    expect((await inst.req("GET", "/healthz")).status).toBe(200);
    const ready = await inst.req("GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe("SERVICE_UNAVAILABLE");
    const early = await inst.req("POST", "/p/demo/auth/login", { body: { email: "a@b.io", password: "x".repeat(10) } });
    expect(early.status).toBe(503);
    expect(early.body.error.code).toBe("SERVICE_UNAVAILABLE");
    expect(early.headers.get("retry-after")).toBe("1");
    await inst.booted.loadPending();
    expect((await inst.req("GET", "/readyz")).status).toBe(200);
    const later = await inst.req("POST", "/p/demo/auth/login", { body: { email: "a@b.io", password: "x".repeat(10) } });
    expect(later.status).toBe(401);
  });
});
