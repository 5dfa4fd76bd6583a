/**
 * A transaction PostgreSQL aborts for a deadlock is run again whole (retryAborted, used by the
 * store's `transaction(fn)`): two transactions taking two rows in opposite orders both commit,
 * where without it one of them fails (a 500 for the request behind it).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { retryAborted, sqlState } from "../../src/storage/postgres/run.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";

describe.skipIf(PG_SKIP_REASON !== null)("retryAborted on a real deadlock", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ max: "4" });
    await db.sql.unsafe("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT NOT NULL)");
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** Two transactions: A updates row a then b, B updates b then a, each waiting until the other holds its first row. */
  async function crossedUpdates(wrap: <T>(run: () => Promise<T>) => Promise<T>): Promise<PromiseSettledResult<unknown>[]> {
    await db.sql.unsafe("DELETE FROM t; INSERT INTO t VALUES ('a', 0), ('b', 0)");
    let firstRun = 2;
    let holding = 0;
    const bothHold = async (): Promise<void> => {
      holding++;
      while (holding < 2 && firstRun > 0) await Bun.sleep(5);
    };
    const tx = (first: string, second: string) =>
      wrap(() =>
        db.sql.begin(async (q) => {
          await q`UPDATE t SET n = n + 1 WHERE id = ${first}`;
          if (firstRun > 0) await bothHold(); // only the first runs wait for each other: the retry just goes on
          await q`UPDATE t SET n = n + 1 WHERE id = ${second}`;
        }),
      );
    const results = await Promise.allSettled([
      tx("a", "b").finally(() => firstRun--),
      tx("b", "a").finally(() => firstRun--),
    ]);
    return results;
  }

  it("without a retry, one of two crossed transactions fails with deadlock_detected", async () => {
    const results = await crossedUpdates((run) => run());
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(failed).toHaveLength(1);
    expect(sqlState(failed[0]!.reason)).toBe("40P01");
    expect(await db.sql`SELECT id, n::int AS n FROM t ORDER BY id`).toEqual([{ id: "a", n: 1 }, { id: "b", n: 1 }]);
  });

  it("with retryAborted both commit, each exactly once", async () => {
    const results = await crossedUpdates((run) => retryAborted(run));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    expect(await db.sql`SELECT id, n::int AS n FROM t ORDER BY id`).toEqual([{ id: "a", n: 2 }, { id: "b", n: 2 }]);
  });

  it("throws any other error at once, without running it again", async () => {
    let runs = 0;
    const e = await retryAborted(async () => {
      runs++;
      await db.sql`SELECT * FROM no_such_table`;
    }).catch((x: unknown) => x);
    expect(sqlState(e)).toBe("42P01");
    expect(runs).toBe(1);
  });
});
