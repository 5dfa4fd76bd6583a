/** Store contract: the `audit` group on both engines (filters, the keyset cursor, pruning, and pruning from 3 stores at once). */
import { afterEach, describe, expect, it } from "bun:test";
import { ENGINES, n, type EngineHarness } from "./admin-engines.ts";

const T0 = 1_767_225_600_000;

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`audit contract (${engine.name})`, () => {
    let h: EngineHarness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<EngineHarness> => (h = await engine.open());

    it("appends and lists newest first with filters and the id cursor", async () => {
      const a = (await (await open()).store()).ops.audit;
      for (let i = 0; i < 6; i++) {
        await a.append({ at: T0 + i * 1000, type: i % 2 ? "login_failed" : "login", userId: i < 3 ? "u1" : "u2", ip: "10.0.0.1", userAgent: "ua", requestId: `r${i}`, details: { i } });
      }
      const all = await a.list({ limit: 10 });
      expect(all.map((e) => e.details.i)).toEqual([5, 4, 3, 2, 1, 0]);
      expect(all[0]).toEqual({ id: all[0]!.id, type: "login_failed", at: new Date(T0 + 5000).toISOString(), user_id: "u2", ip: "10.0.0.1", user_agent: "ua", request_id: "r5", details: { i: 5 } });
      expect(typeof all[0]!.id).toBe("number");
      const page1 = await a.list({ limit: 2 });
      const page2 = await a.list({ limit: 2, beforeId: page1[1]!.id });
      expect([...page1, ...page2].map((e) => e.details.i)).toEqual([5, 4, 3, 2]);
      expect((await a.list({ limit: 10, userId: "u1" })).map((e) => e.details.i)).toEqual([2, 1, 0]);
      expect((await a.list({ limit: 10, type: "login" })).map((e) => e.details.i)).toEqual([4, 2, 0]);
      expect((await a.list({ limit: 10, sinceMs: T0 + 4000 })).map((e) => e.details.i)).toEqual([5, 4]);
      expect((await a.list({ limit: 10, userId: "u2", type: "login_failed", beforeId: all[0]!.id })).map((e) => e.details.i)).toEqual([3]);
      expect(await a.prune(T0 + 2000)).toBe(2);
      expect(await a.pruneOldest(T0 + 5000, 2)).toBe(2);
      expect(await a.pruneOldest(T0 + 5000, 2)).toBe(1);
      expect(await a.pruneOldest(T0 + 5000, 2)).toBe(0);
      expect((await a.list({ limit: 10 })).map((e) => e.details.i)).toEqual([5]);
    });

    it("an append in a rolled-back transaction leaves no row", async () => {
      const s = await (await open()).store();
      await expect(s.transaction(async (tx) => {
        await tx.audit.append({ at: T0, type: "x", userId: null, ip: null, userAgent: null, requestId: null, details: {} });
        throw new Error("boom");
      })).rejects.toThrow("boom");
      expect(await s.ops.audit.list({ limit: 10 })).toEqual([]);
    });

    it("3 stores pruning the oldest rows at once delete each old row once and no newer one", async () => {
      const harness = await open();
      const stores = [await harness.store(), await harness.store(), await harness.store()];
      for (let i = 0; i < 300; i++) await stores[0]!.ops.audit.append({ at: T0 + i, type: "t", userId: null, ip: null, userAgent: null, requestId: null, details: {} });
      const deleted = await Promise.all(stores.map(async (s) => {
        let total = 0;
        for (;;) {
          const d = await s.ops.audit.pruneOldest(T0 + 250, 20);
          total += d;
          if (d < 20) return total;
        }
      }));
      // A store that found the rest locked by another stops early; one more pass cleans up.
      const after = await stores[0]!.ops.audit.pruneOldest(T0 + 250, 1000);
      expect(deleted.reduce((a, b) => a + b, 0) + after).toBe(250);
      const [left] = await harness.query<{ c: unknown; lo: unknown }>("SELECT count(*) AS c, min(at) AS lo FROM _audit");
      expect([n(left!.c), n(left!.lo)]).toEqual([50, T0 + 250]);
    });
  });
}
