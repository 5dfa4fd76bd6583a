/**
 * Store contract, `linkTokens` (and the pending email changes they confirm): the same cases on
 * SQLite and PostgreSQL. A link token is consumed once: of 10 concurrent uses from 10 connections
 * exactly one gets it.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import type { LinkTokenKind } from "../../../src/storage/link-tokens.ts";
import { addUser, ENGINES, releaseEngines, type ContractStore, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);
const MIN = 60_000;

async function issue(store: ContractStore, id: string, kind: LinkTokenKind, userId: string, opts: { expiresAtMs?: number } = {}): Promise<void> {
  await store.linkTokens.issue({ id, hash: `h-${id}`, kind, userId, email: "a@x.io", nowMs: T0, expiresAtMs: opts.expiresAtMs ?? T0 + 30 * MIN });
}

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: linkTokens (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<Harness> => (h = await engine.open());

    it("consumes a live token once, for its kind only, and then finds it used", async () => {
      const { store, scalar } = await open();
      const u = await addUser(store, "a@x.io");
      await issue(store, "t1", "reset", u.id);
      expect(await store.linkTokens.isLiveByHash("reset", "h-t1", T0)).toBe(true);
      expect(await store.linkTokens.isLive("t1", T0)).toBe(true);
      expect(await store.linkTokens.findUsed("reset", "h-t1", T0)).toBeNull();
      expect(await store.linkTokens.consume("verify", "h-t1", T0)).toBeNull();
      expect(await store.linkTokens.consume("reset", "h-t1", T0 + 1)).toEqual({ id: "t1", userId: u.id, email: "a@x.io" });
      expect(await scalar("SELECT used_at FROM _link_tokens WHERE id = ?1", ["t1"])).toBe(T0 + 1);
      expect(await store.linkTokens.consume("reset", "h-t1", T0 + 2)).toBeNull();
      expect(await store.linkTokens.findUsed("reset", "h-t1", T0 + 2)).toEqual({ id: "t1", userId: u.id, email: "a@x.io" });
      expect(await store.linkTokens.isLiveByHash("reset", "h-t1", T0 + 2)).toBe(false);
      expect(await store.linkTokens.isLive("t1", T0 + 2)).toBe(false);
      expect(await store.linkTokens.consume("reset", "h-unknown", T0)).toBeNull();
    });

    it("refuses an expired token and a revoked one", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      await issue(store, "old", "verify", u.id, { expiresAtMs: T0 + MIN });
      expect(await store.linkTokens.consume("verify", "h-old", T0 + MIN)).toBeNull();
      expect(await store.linkTokens.isLive("old", T0 + MIN)).toBe(false);
      await issue(store, "r1", "reset", u.id);
      await issue(store, "r2", "reset", u.id);
      await issue(store, "v1", "verify", u.id);
      // Revokes the user's other live reset links only.
      expect(await store.linkTokens.revoke({ kind: "reset", userId: u.id, nowMs: T0 + 1, exceptId: "r2" })).toBe(1);
      expect(await store.linkTokens.consume("reset", "h-r1", T0 + 2)).toBeNull();
      expect(await store.linkTokens.findUsed("reset", "h-r1", T0 + 2)).toBeNull();
      expect(await store.linkTokens.consume("reset", "h-r2", T0 + 2)).toMatchObject({ id: "r2" });
      expect(await store.linkTokens.isLive("v1", T0 + 2)).toBe(true);
      // Unused ones whatever their expiry: the expired "old" link and "v1".
      expect(await store.linkTokens.revoke({ kind: "verify", userId: u.id, nowMs: T0 + 3 })).toBe(2);
      expect(await store.linkTokens.isLive("v1", T0 + 3)).toBe(false);
    });

    it("keeps email-change confirmations apart: only the newest is live, and a confirmed change revokes resets and the rest", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      const change = { userId: u.id, oldEmail: "a@x.io", newEmail: "b@x.io", newCanonical: "b@x.io" };
      await issue(store, "c1", "verify", u.id);
      await store.linkTokens.addEmailChange({ ...change, tokenId: "c1", nowMs: T0 });
      expect(await store.linkTokens.emailChangeOf("c1")).toEqual(change);
      // A plain revoke of verify links leaves pending changes alone.
      expect(await store.linkTokens.revoke({ kind: "verify", userId: u.id, nowMs: T0 + 1 })).toBe(0);
      await issue(store, "c2", "verify", u.id);
      await store.linkTokens.addEmailChange({ ...change, newEmail: "c@x.io", newCanonical: "c@x.io", tokenId: "c2", nowMs: T0 + 2 });
      expect(await store.linkTokens.isLive("c1", T0 + 2)).toBe(false);
      expect(await store.linkTokens.isLive("c2", T0 + 2)).toBe(true);
      expect(await store.linkTokens.emailChangeOf("nope")).toBeNull();
      await issue(store, "r1", "reset", u.id);
      await issue(store, "v1", "verify", u.id);
      await store.linkTokens.revokeAfterEmailChange(u.id, T0 + 3);
      expect(await store.linkTokens.isLive("r1", T0 + 3)).toBe(false);
      expect(await store.linkTokens.isLive("c2", T0 + 3)).toBe(false);
      expect(await store.linkTokens.isLive("v1", T0 + 3)).toBe(true);
    });

    it("prunes the rows that expired before the given time", async () => {
      const { store, scalar } = await open();
      const u = await addUser(store, "a@x.io");
      await issue(store, "a", "reset", u.id, { expiresAtMs: T0 + MIN });
      await issue(store, "b", "reset", u.id, { expiresAtMs: T0 + 2 * MIN });
      expect(await store.linkTokens.prune(T0 + MIN)).toBe(0);
      expect(await store.linkTokens.prune(T0 + MIN + 1)).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _link_tokens")).toBe(1);
    });

    it("10 concurrent consumptions of one token from 10 connections: exactly one gets it", async () => {
      const { store, replicas, scalar } = await open();
      const u = await addUser(store, "a@x.io");
      await issue(store, "t1", "reset", u.id);
      const stores = await replicas(10);
      const got = await Promise.all(stores.map((r, i) => r.linkTokens.consume("reset", "h-t1", T0 + 1 + i)));
      expect(got.filter((g) => g !== null)).toEqual([{ id: "t1", userId: u.id, email: "a@x.io" }]);
      expect(await scalar("SELECT count(*) AS n FROM _link_tokens WHERE used_at IS NOT NULL")).toBe(1);
    });
  });
}
