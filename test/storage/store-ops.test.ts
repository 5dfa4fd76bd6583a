/**
 * SQLite-only store operations, through `p.store` as the services use them: the outbox claim and
 * the write-lock probe. The end-user groups (users, sessions, refresh and link tokens, rate limits,
 * transactions) run on both engines in test/storage/contract/.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, runtimeOf } from "../helpers/auth.ts";

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

async function instance(spec = authSpec()): Promise<TestInstance> {
  inst = await createTestInstance([spec]);
  return inst;
}

describe("store operations (SQLite)", () => {
  it("claims an outbox attempt only once", async () => {
    const t = await instance();
    const p = runtimeOf(t);
    const nowMs = t.clock.now;
    await p.store.outbox.enqueue({ id: "m1", template: "password_changed", to: "a@x.io", payload: "{}", nowMs });
    const [row] = await p.store.outbox.due(nowMs, 10);
    expect(row).toMatchObject({ id: "m1", attempts: 0 });
    const claims = await Promise.all([p.store.outbox.claim("m1", 0, nowMs + 5_000), p.store.outbox.claim("m1", 0, nowMs + 5_000)]);
    expect(claims.sort()).toEqual([false, true]);
    expect(await p.store.outbox.due(nowMs, 10)).toEqual([]);
  });

  it("sees another connection's write lock, and not its own", async () => {
    const t = await instance();
    const p = runtimeOf(t);
    expect(await p.store.writeLockedElsewhere()).toBe(false);
    const other = new Database(join(t.dataDir, "demo.db"));
    try {
      other.run("BEGIN IMMEDIATE");
      expect(await p.store.writeLockedElsewhere()).toBe(true);
      other.run("ROLLBACK");
      expect(await p.store.writeLockedElsewhere()).toBe(false);
      await p.store.transaction(async () => {
        expect(await p.store.writeLockedElsewhere()).toBe(false);
      });
    } finally {
      other.close();
    }
  });
});
