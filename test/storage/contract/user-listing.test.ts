/**
 * Store contract: the `userListing` group (the admin users list, SPEC 12) on both engines: keyset
 * pages in (created_at, id) order with one row more for "there is a next page", the address
 * prefix search (and an id), `verified`, `banned` (a ban in force, not an expired one) and their
 * combinations give the same users on SQLite and PostgreSQL.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { BANNED_WALK } from "../../../src/storage/user-listing.ts";
import type { UserListQuery } from "../../../src/storage/user-listing.ts";
import { authSpec } from "../../helpers/auth.ts";
import { addUser, ENGINES, releaseEngines, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: userListing (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });

    it("pages, searches and filters alike", async () => {
      h = await engine.open(authSpec());
      const { store, config } = h;
      const table = config.authTableName!;
      // ann, bob, cat, dan, eve, one second apart; bob and dan verified; cat banned, eve's ban expired.
      const names = ["ann", "bob", "cat", "dan", "eve"];
      const users = [];
      for (const [i, name] of names.entries()) users.push(await addUser(store, `${name}.${i}@x.io`, T0 + i * 1000));
      const [ann, bob, cat, dan, eve] = users as [typeof users[0], typeof users[0], typeof users[0], typeof users[0], typeof users[0]];
      await store.users.markEmailVerified(bob.id, new Date(T0).toISOString());
      await store.users.markEmailVerified(dan.id, new Date(T0).toISOString());
      await store.users.setBan(cat.id, { nowMs: T0, untilMs: null, reason: "spam" });
      await store.users.setBan(eve.id, { nowMs: T0, untilMs: T0 + 10_000, reason: null });
      await store.users.recordLogin(ann.id, T0 + 5);
      const nowMs = T0 + 20_000;
      const page = async (q: UserListQuery) => (await store.userListing.page(table, q, nowMs, BANNED_WALK)).map((x) => x.user.email.split(".")[0]);

      expect(await page({ limit: 10 })).toEqual(names);
      // One more than the limit says there is a next page; the cursor continues after the last shown.
      expect(await page({ limit: 2 })).toEqual(["ann", "bob", "cat"]);
      expect(await page({ limit: 2, after: [bob.created_at, bob.id] })).toEqual(["cat", "dan", "eve"]);
      expect(await page({ limit: 2, after: [dan.created_at, dan.id] })).toEqual(["eve"]);
      expect(await page({ limit: 10, verified: true })).toEqual(["bob", "dan"]);
      expect(await page({ limit: 10, verified: false })).toEqual(["ann", "cat", "eve"]);
      expect(await page({ limit: 10, banned: true })).toEqual(["cat"]);
      expect(await page({ limit: 10, banned: false })).toEqual(["ann", "bob", "dan", "eve"]);
      expect(await page({ limit: 10, banned: false, verified: false })).toEqual(["ann", "eve"]);
      expect(await page({ limit: 10, q: "CA" })).toEqual(["cat"]);
      expect(await page({ limit: 10, q: "d" })).toEqual(["dan"]);
      // `%` and `_` are plain characters, not patterns.
      expect(await page({ limit: 10, q: "%" })).toEqual([]);
      expect(await page({ limit: 10, q: "_" })).toEqual([]);
      expect(await page({ limit: 10, q: dan.id.toUpperCase() })).toEqual(["dan"]);
      expect(await page({ limit: 10, q: "e", banned: false })).toEqual(["eve"]);

      // Each user comes with its status beside it, decoded alike.
      const [first] = await store.userListing.page(table, { limit: 1 }, nowMs, BANNED_WALK);
      expect(first!.user).toEqual(ann);
      expect(first!.status).toEqual({ bannedAt: null, bannedUntil: null, banReason: null, lastLoginAt: T0 + 5 });
      const [banned] = await store.userListing.page(table, { limit: 1, banned: true }, nowMs, BANNED_WALK);
      expect(banned!.status).toEqual({ bannedAt: T0, bannedUntil: null, banReason: "spam", lastLoginAt: null });
      expect(banned!.user.id).toBe(cat.id);
    }, 30_000);
  });
}
