/** Store contract: the `consoleSessions` and `admin` groups on both engines. */
import { afterEach, describe, expect, it } from "bun:test";
import { ENGINES, NOW_ISO, type EngineHarness } from "./admin-engines.ts";

const T0 = 1_767_225_600_000;

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`console sessions and admin contract (${engine.name})`, () => {
    let h: EngineHarness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<EngineHarness> => (h = await engine.open());

    it("starts, finds and ends console sessions; a new one drops the expired", async () => {
      const harness = await open();
      const c = (await harness.store()).ops.consoleSessions;
      await c.start("h1", "mark", T0, T0 + 1000);
      await c.start("h2", "mark", T0, T0 + 5000);
      expect(await c.find("h1")).toEqual({ keyMark: "mark", expiresAtMs: T0 + 1000 });
      expect(await c.find("nope")).toBeNull();
      await c.start("h3", "mark2", T0 + 1000, T0 + 9000);
      expect(await c.find("h1")).toBeNull();
      expect(await c.find("h2")).toEqual({ keyMark: "mark", expiresAtMs: T0 + 5000 });
      await c.end("h2");
      expect(await c.find("h2")).toBeNull();
      await c.start("h4", "mark2", T0 + 1000, T0 + 9000);
      await c.endAll();
      expect(await harness.query("SELECT token_hash FROM _console_sessions")).toEqual([]);
      // Two sessions with one token hash cannot both exist; the failed start leaves the first.
      await c.start("h5", "m", T0, T0 + 9000);
      await expect(c.start("h5", "other", T0, T0 + 9000)).rejects.toThrow();
      expect(await c.find("h5")).toEqual({ keyMark: "m", expiresAtMs: T0 + 9000 });
    });

    it("reads the schema history newest first", async () => {
      const harness = await open();
      const a = (await harness.store()).ops.admin;
      expect(await a.schemaHistory(10)).toEqual([]);
      await harness.query("INSERT INTO _schema_history (applied_at, kind, table_name, column_name, destructive, description, sql) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [NOW_ISO, "create_table", "notes", null, 0, "create table notes", "CREATE ..."]);
      await harness.query("INSERT INTO _schema_history (applied_at, kind, table_name, column_name, destructive, description, sql) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [NOW_ISO, "drop_column", "notes", "body", 1, "drop column notes.body", "ALTER ..."]);
      expect(await a.schemaHistory(10)).toEqual([
        { applied_at: NOW_ISO, kind: "drop_column", table_name: "notes", column_name: "body", destructive: 1, description: "drop column notes.body" },
        { applied_at: NOW_ISO, kind: "create_table", table_name: "notes", column_name: null, destructive: 0, description: "create table notes" },
      ]);
      expect((await a.schemaHistory(1)).length).toBe(1);
    });
  });
}
