/**
 * Store contract, the store itself: `transaction(fn)` commits everything `fn` did or nothing, on
 * SQLite and PostgreSQL; an operation that answers a refusal inside a transaction (an email change
 * to a taken address) leaves the transaction usable; PostgreSQL has no write lock held elsewhere.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { authSpec } from "../../helpers/auth.ts";
import { addUser, ENGINES, releaseEngines, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: transactions (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (spec = authSpec()): Promise<Harness> => (h = await engine.open(spec));

    it("names its engine and commits what the function did when it resolves", async () => {
      const { store } = await open();
      expect(store.engine).toBe(engine.name);
      const made = await store.transaction(async (tx) => {
        const u = await addUser(tx, "a@x.io");
        await tx.sessions.create({ id: "s1", userId: u.id, nowMs: T0, ip: null, userAgent: null, unverified: false });
        await tx.refreshTokens.issue({ hash: "rt1", sessionId: "s1", nowMs: T0, expiresAtMs: T0 + 60_000 });
        return u.id;
      });
      expect(await store.sessions.liveOwner("s1")).toBe(made);
      expect((await store.sessions.listLive(made, T0)).map((s) => s.id)).toEqual(["s1"]);
    });

    it("rolls a transaction back as a whole when its function throws", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      await store.sessions.create({ id: "s1", userId: u.id, nowMs: T0, ip: null, userAgent: null, unverified: false });
      await store.refreshTokens.issue({ hash: "rt1", sessionId: "s1", nowMs: T0, expiresAtMs: T0 + 60_000 });
      await expect(
        store.transaction(async (tx) => {
          await tx.users.setBan(u.id, { nowMs: T0, untilMs: null, reason: "r" });
          expect(await tx.sessions.revokeUser(u.id, T0, { reason: "banned" })).toBe(1);
          await tx.rateLimits.hit("login_per_ip:x", { max: 1, windowSeconds: 60 }, T0);
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      expect((await store.users.status(u.id)).bannedAt).toBeNull();
      expect(await store.sessions.listLive(u.id, T0)).toHaveLength(1);
      expect((await store.rateLimits.peek("login_per_ip:x", { max: 1, windowSeconds: 60 }, T0)).count).toBe(0);
    });

    it("keeps a transaction usable after an email change refused as taken, and commits the rest", async () => {
      const { store } = await open();
      const a = await addUser(store, "a@x.io");
      await addUser(store, "b@x.io");
      const answer = await store.transaction(async (tx) => {
        const taken = await tx.users.changeEmail(a.id, "b@x.io", "b@x.io", new Date(T0).toISOString());
        await tx.users.recordLogin(a.id, T0 + 7);
        return taken;
      });
      expect(answer).toBe("taken");
      expect((await store.users.status(a.id)).lastLoginAt).toBe(T0 + 7);
      expect(await store.users.findById(a.id)).toMatchObject({ email: "a@x.io" });
    });

    it("answers a delete refused by a restrict reference down a cascade chain, and the transaction goes on", async () => {
      const spec = authSpec();
      // users <- notes (cascade) <- comments (restrict): deleting the user would delete a note a comment still needs.
      (spec.tables as Record<string, unknown>).notes = { columns: { owner: "ref users required cascade" } };
      (spec.tables as Record<string, unknown>).comments = { columns: { note: "ref notes required" } };
      const { store, exec } = await open(spec);
      const a = await addUser(store, "a@x.io");
      await exec("INSERT INTO notes (id, created_at, updated_at, owner) VALUES ('n1', 'x', 'x', ?1)", [a.id]);
      await exec("INSERT INTO comments (id, created_at, updated_at, note) VALUES ('c1', 'x', 'x', 'n1')");
      const result = await store.transaction(async (tx) => {
        const removed = await tx.users.remove(a.id);
        await tx.users.recordLogin(a.id, T0 + 9);
        return removed;
      });
      expect(result).toEqual({ ok: false, restrictedBy: null });
      expect(await store.users.findById(a.id)).not.toBeNull();
      expect((await store.users.status(a.id)).lastLoginAt).toBe(T0 + 9);
      await exec("DELETE FROM comments");
      expect(await store.users.remove(a.id)).toEqual({ ok: true });
      expect(await store.users.findById(a.id)).toBeNull();
    });

    it("sees no write lock held elsewhere while the store itself is idle", async () => {
      const { store } = await open();
      expect(await store.writeLockedElsewhere()).toBe(false);
    });
  });
}
