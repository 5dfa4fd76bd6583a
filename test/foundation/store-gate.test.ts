/**
 * A reload builds a new store (new config) on the connection the running project hands on. The two
 * stores share one transaction gate: an operation of the old store waits for a transaction of the
 * new one, so requests still running on the old runtime never write into it.
 */
import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, runtimeOf } from "../helpers/auth.ts";
import { createSqliteStore, sqliteDatabaseOf } from "../../src/storage/sqlite/store.ts";

const sqlite = sqliteOnly("the transaction gate of one SQLite connection");

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

sqlite.describe("stores on one connection", () => {
  it("share the transaction gate: an outside operation waits for the other store's transaction to end", async () => {
    inst = await createTestInstance([authSpec()]);
    const p = runtimeOf(inst);
    const db = sqliteDatabaseOf(p.store);
    const next = createSqliteStore({ db, config: p.config, now: p.deps.now, random: p.deps.random });
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tx = next.transaction(async (t) => {
      await t.settings.setRedirectOrigins(["https://inside.example"], "2026-01-15T12:00:00.000Z");
      order.push("tx wrote");
      await held;
      await t.settings.setRedirectOrigins(["https://inside.example", "https://second.example"], "2026-01-15T12:00:00.000Z");
      order.push("tx wrote again");
    });
    const read = p.store.settings.redirectOrigins().then((origins) => {
      order.push("old store read");
      return origins;
    });
    await Bun.sleep(5);
    expect(order).toEqual(["tx wrote"]);
    release();
    await tx;
    expect(await read).toEqual(["https://inside.example", "https://second.example"]);
    expect(order).toEqual(["tx wrote", "tx wrote again", "old store read"]);
  });
});
