import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { chmodSync, statSync } from "node:fs";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";

const sqlite = sqliteOnly("checks the modes of the SQLite project files");

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

sqlite.describe("database file modes", () => {
  it("narrows an existing database and its -wal/-shm files to 0600 when the project opens", async () => {
    inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } } }]);
    const db = join(inst.dataDir, "demo.db");
    // Projects open on demand (projects/pool.ts): open it so its -wal/-shm files exist.
    inst.booted.projects.get("demo");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) chmodSync(f, 0o644);
    await inst.restart();
    // After a restart it stays closed until used: this open is the one that narrows the modes.
    inst.booted.projects.get("demo");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(`${f}: ${(statSync(f).mode & 0o777).toString(8)}`).toBe(`${f}: 600`);
  });
});
