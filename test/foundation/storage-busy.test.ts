import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";

const sqlite = sqliteOnly("holds the SQLite write lock from a second connection");

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

sqlite.describe("storage unavailable", () => {
  it("answers 503 SERVICE_UNAVAILABLE with Retry-After, not 500, while another process holds the write lock", async () => {
    inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } } }]);
    const p = inst.booted.projects.get("demo")!;
    p.db.exec("PRAGMA busy_timeout = 50");
    const other = new Database(join(inst.dataDir, "demo.db"));
    other.exec("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE");
    try {
      const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "busy@example.com", password: "correct horse battery" } });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe("SERVICE_UNAVAILABLE");
      expect(r.headers.get("retry-after")).toBe("1");
      expect(r.text).not.toContain("SQLITE");
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    const again = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "busy@example.com", password: "correct horse battery" } });
    expect(again.status).toBe(201);
  });
});
