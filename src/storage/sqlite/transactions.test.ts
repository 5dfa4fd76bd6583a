import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { TransactionGate } from "./transactions.ts";

function setup() {
  const db = new Database(":memory:");
  db.run("CREATE TABLE t(v INTEGER)");
  const gate = new TransactionGate(db);
  const insert = (v: number) => void db.query("INSERT INTO t(v) VALUES (?)").run(v);
  const values = () => (db.query("SELECT v FROM t ORDER BY rowid").all() as { v: number }[]).map((r) => r.v);
  return { db, gate, insert, values };
}

describe("TransactionGate", () => {
  test("an operation from outside waits until the open transaction commits", async () => {
    const { gate, insert, values } = setup();
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = gate.run(async () => {
      gate.inside(insert)(1);
      order.push("tx wrote 1");
      await held; // another request's continuation runs here
      gate.inside(insert)(2);
      order.push("tx wrote 2");
    });
    const outsideRead = gate.outside(values)().then((v) => {
      order.push(`outside read ${v.join(",")}`);
      return v;
    });
    await Bun.sleep(5);
    expect(order).toEqual(["tx wrote 1"]);
    release();
    await tx;
    expect(await outsideRead).toEqual([1, 2]);
    expect(order).toEqual(["tx wrote 1", "tx wrote 2", "outside read 1,2"]);
  });

  test("a throw rolls the whole transaction back and releases the gate", async () => {
    const { gate, insert, values, db } = setup();
    await expect(
      gate.run(async () => {
        await gate.inside(insert)(1);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(db.inTransaction).toBe(false);
    expect(gate.open).toBe(false);
    expect(await gate.outside(values)()).toEqual([]);
  });

  test("transactions queued behind each other run one at a time, and every waiter runs", async () => {
    const { gate, insert, values } = setup();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = gate.run(async () => {
      await held;
      insert(1);
    });
    const others = [2, 3, 4].map((v) => gate.run(async () => insert(v)));
    const reads = [gate.outside(values)(), gate.outside(values)()];
    await Bun.sleep(5);
    expect(values()).toEqual([]);
    release();
    await Promise.all([first, ...others]);
    const seen = await Promise.all(reads);
    expect(values()).toEqual([1, 2, 3, 4]);
    for (const v of seen) expect(v[0]).toBe(1); // no read ran inside the first transaction
  });
});
