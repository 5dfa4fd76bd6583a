/**
 * Store contract: the `outbox` group on both engines. Claims count an attempt exactly once however
 * many stores (replicas) ask at the same time; a claim is a lease (the message is due again when
 * it runs out); on PostgreSQL only the holder of the current lease marks the message.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { ENGINES, n, type EngineHarness } from "./admin-engines.ts";

const T0 = 1_767_225_600_000;

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`outbox contract (${engine.name})`, () => {
    let h: EngineHarness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<EngineHarness> => (h = await engine.open());

    it("enqueues, lists what is due oldest retry first, and counts", async () => {
      const s = (await (await open()).store()).ops.outbox;
      await s.enqueue({ id: "m2", template: "verify_email", to: "b@x.io", payload: '{"a":1}', nowMs: T0 + 10 });
      await s.enqueue({ id: "m1", template: "reset_password", to: "a@x.io", payload: "{}", nowMs: T0 });
      await s.enqueue({ id: "m3", template: "verify_email", to: "c@x.io", payload: "{}", nowMs: T0 + 5_000 });
      expect(await s.due(T0 + 10, 10)).toEqual([
        { id: "m1", template: "reset_password", to_addr: "a@x.io", payload: "{}", attempts: 0, next_attempt_at: T0 },
        { id: "m2", template: "verify_email", to_addr: "b@x.io", payload: '{"a":1}', attempts: 0, next_attempt_at: T0 + 10 },
      ]);
      expect((await s.due(T0 + 10, 1)).map((r) => r.id)).toEqual(["m1"]);
      expect(await s.nextDueAt()).toBe(T0);
      expect(await s.counts()).toEqual({ pending: 3, failed: 0 });
    });

    it("claims an attempt once, moves its retry time on, and marks it sent or failed", async () => {
      const s = (await (await open()).store()).ops.outbox;
      await s.enqueue({ id: "m1", template: "verify_email", to: "a@x.io", payload: "{}", nowMs: T0 });
      await s.enqueue({ id: "m2", template: "verify_email", to: "b@x.io", payload: "{}", nowMs: T0 });
      expect(await s.claim("m1", 0, T0 + 5_000)).toBe(true);
      expect(await s.claim("m1", 0, T0 + 5_000)).toBe(false);
      expect((await s.due(T0 + 1, 10)).map((r) => r.id)).toEqual(["m2"]);
      expect(await s.markSent("m1", T0 + 2)).toBe(true);
      expect(await s.claim("m2", 0, T0 + 5_000)).toBe(true);
      expect(await s.markFailed("m2", T0 + 3, "550 no such user")).toBe(true);
      expect(await s.counts()).toEqual({ pending: 0, failed: 1 });
      expect(await s.nextDueAt()).toBeNull();
      expect(await s.findFailed("m2")).toEqual({ template: "verify_email", to_addr: "b@x.io" });
      expect(await s.findFailed("m1")).toBeNull();
      const unsent = await s.listUnsent(10);
      expect(unsent).toEqual([{ id: "m2", template: "verify_email", status: "failed", attempts: 1, next_attempt_at: T0 + 5_000, created_at: T0, last_error: "550 no such user" }]);
      const stored = await h!.query<{ id: string; payload: string | null; finished_at: unknown }>("SELECT id, payload, finished_at FROM _outbox ORDER BY id");
      expect(stored.map((r) => [r.id, r.payload, n(r.finished_at)])).toEqual([["m1", null, T0 + 2], ["m2", null, T0 + 3]]);
      // Finished messages older than the cutoff go; pending ones never do.
      await s.enqueue({ id: "m3", template: "verify_email", to: "c@x.io", payload: "{}", nowMs: T0 });
      expect(await s.pruneFinished(T0 + 3)).toBe(1);
      expect(await s.pruneFinished(T0 + 1_000_000)).toBe(1);
      expect((await h!.query<{ id: string }>("SELECT id FROM _outbox")).map((r) => r.id)).toEqual(["m3"]);
      await s.remove("m3");
      expect(await s.counts()).toEqual({ pending: 0, failed: 0 });
    });

    it("records an error on the claimed attempt; the message is due again when its retry time comes", async () => {
      const s = (await (await open()).store()).ops.outbox;
      await s.enqueue({ id: "m1", template: "verify_email", to: "a@x.io", payload: "{}", nowMs: T0 });
      expect(await s.claim("m1", 0, T0 + 5_000)).toBe(true);
      expect(await s.recordError("m1", "421 try later")).toBe(true);
      expect(await s.due(T0 + 4_999, 10)).toEqual([]);
      expect(await s.due(T0 + 5_000, 10)).toEqual([
        { id: "m1", template: "verify_email", to_addr: "a@x.io", payload: "{}", attempts: 1, next_attempt_at: T0 + 5_000 },
      ]);
      expect((await s.listUnsent(10))[0]?.last_error).toBe("421 try later");
    });

    it("3 stores claiming 300 pending messages at once: each message is claimed exactly once", async () => {
      const harness = await open();
      const stores = [await harness.store(), await harness.store(), await harness.store()];
      const first = stores[0]!.ops.outbox;
      for (let i = 0; i < 300; i++) await first.enqueue({ id: `m${String(i).padStart(3, "0")}`, template: "verify_email", to: `u${i}@x.io`, payload: "{}", nowMs: T0 });
      const claimedBy = await Promise.all(stores.map(async (s) => {
        const mine: string[] = [];
        for (;;) {
          const due = await s.ops.outbox.due(T0, 40);
          if (due.length === 0) return mine;
          const won = await Promise.all(due.map((r) => s.ops.outbox.claim(r.id, r.attempts, T0 + 60_000)));
          due.forEach((r, i) => won[i] && mine.push(r.id));
        }
      }));
      const all = claimedBy.flat();
      expect(all.length).toBe(300);
      expect(new Set(all).size).toBe(300);
      const attempts = await harness.query<{ a: unknown; c: unknown }>("SELECT attempts AS a, count(*) AS c FROM _outbox GROUP BY attempts");
      expect(attempts.map((r) => [n(r.a), n(r.c)])).toEqual([[1, 300]]);
      // Each store marks what it claimed: every message sent once.
      await Promise.all(stores.map((s, i) => Promise.all(claimedBy[i]!.map(async (id) => expect(await s.ops.outbox.markSent(id, T0 + 1)).toBe(true)))));
      expect(await first.counts()).toEqual({ pending: 0, failed: 0 });
    });

    it("a lease that ran out is claimed again; the dead holder can no longer mark the message", async () => {
      const harness = await open();
      const dead = (await harness.store()).ops.outbox;
      const alive = (await harness.store()).ops.outbox;
      await dead.enqueue({ id: "m1", template: "verify_email", to: "a@x.io", payload: "{}", nowMs: T0 });
      expect(await dead.claim("m1", 0, T0 + 30_000)).toBe(true);
      // While the lease runs, the message is nobody else's.
      expect(await alive.due(T0 + 29_999, 10)).toEqual([]);
      expect(await alive.claim("m1", 0, T0 + 60_000)).toBe(false);
      // The holder died: once the lease is over, another sender takes the message over.
      const [row] = await alive.due(T0 + 30_000, 10);
      expect(row).toMatchObject({ id: "m1", attempts: 1 });
      expect(await alive.claim("m1", 1, T0 + 90_000)).toBe(true);
      if (engine.name === "postgres") {
        // (SQLite: one process per data dir, so no other holder can exist; it keeps no holder.)
        expect(await dead.markSent("m1", T0 + 31_000)).toBe(false);
        expect(await dead.markFailed("m1", T0 + 31_000, "x")).toBe(false);
        expect(await dead.recordError("m1", "x")).toBe(false);
        const [still] = await harness.query<{ status: string; last_error: string | null }>("SELECT status, last_error FROM _outbox WHERE id = 'm1'");
        expect(still).toEqual({ status: "pending", last_error: null });
      }
      expect(await alive.markSent("m1", T0 + 32_000)).toBe(true);
      const [done] = await harness.query<{ status: string; attempts: unknown }>("SELECT status, attempts FROM _outbox WHERE id = 'm1'");
      expect([done!.status, n(done!.attempts)]).toEqual(["sent", 2]);
    });

    it("an enqueue in a rolled-back transaction leaves no message", async () => {
      const s = await (await open()).store();
      await expect(s.transaction(async (tx) => {
        await tx.outbox.enqueue({ id: "m1", template: "verify_email", to: "a@x.io", payload: "{}", nowMs: T0 });
        throw new Error("boom");
      })).rejects.toThrow("boom");
      await s.transaction(async (tx) => tx.outbox.enqueue({ id: "m2", template: "verify_email", to: "b@x.io", payload: "{}", nowMs: T0 }));
      expect((await s.ops.outbox.due(T0, 10)).map((r) => r.id)).toEqual(["m2"]);
    });
  });
}
