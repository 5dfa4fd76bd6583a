/**
 * Store contract, `sessions`: the same cases on SQLite and PostgreSQL. Ending a session ends its
 * refresh tokens in the same operation; listing shows live sessions with a usable token; prune
 * deletes only what can no longer authenticate anyone.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { addUser, ENGINES, releaseEngines, type ContractStore, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);
const MIN = 60_000;

async function open3(store: ContractStore, userId: string, ids: string[], opts: { unverified?: string[] } = {}): Promise<void> {
  for (const [i, id] of ids.entries()) {
    await store.sessions.create({ id, userId, nowMs: T0 + i, ip: `10.0.0.${i}`, userAgent: `ua${i}`, unverified: opts.unverified?.includes(id) ?? false });
    await store.refreshTokens.issue({ hash: `rt-${id}`, sessionId: id, nowMs: T0 + i, expiresAtMs: T0 + 60 * MIN + i });
  }
}

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: sessions (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<Harness> => (h = await engine.open());

    it("lists live sessions with a usable refresh token, newest first, and names a live session's owner", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      await open3(store, u.id, ["s1", "s2"]);
      await store.sessions.create({ id: "bare", userId: u.id, nowMs: T0 + 5, ip: null, userAgent: null, unverified: false });
      await store.sessions.touch("s1", T0 + 10);
      expect(await store.sessions.listLive(u.id, T0 + 20)).toEqual([
        { id: "s2", createdAtMs: T0 + 1, lastUsedAtMs: T0 + 1, expiresAtMs: T0 + 60 * MIN + 1, ip: "10.0.0.1", userAgent: "ua1" },
        { id: "s1", createdAtMs: T0, lastUsedAtMs: T0 + 10, expiresAtMs: T0 + 60 * MIN, ip: "10.0.0.0", userAgent: "ua0" },
      ]);
      // Past its tokens' expiry a session is no longer listed.
      expect(await store.sessions.listLive(u.id, T0 + 60 * MIN)).toEqual([{ id: "s2", createdAtMs: T0 + 1, lastUsedAtMs: T0 + 1, expiresAtMs: T0 + 60 * MIN + 1, ip: "10.0.0.1", userAgent: "ua1" }]);
      expect(await store.sessions.liveOwner("bare")).toBe(u.id);
      expect(await store.sessions.liveOwner("nope")).toBeNull();
    });

    it("revokes one session with its refresh tokens, once; revokeOwned only for its owner", async () => {
      const { store, scalar } = await open();
      const u = await addUser(store, "a@x.io");
      const other = await addUser(store, "b@x.io");
      await open3(store, u.id, ["s1", "s2"]);
      expect(await store.sessions.revoke("s1", T0 + 1, "logout")).toBe(true);
      expect(await store.sessions.revoke("s1", T0 + 2, "logout")).toBe(false);
      expect(await scalar("SELECT revoked_at FROM _refresh_tokens WHERE session_id = 's1'")).toBe(T0 + 1);
      expect(await scalar("SELECT count(*) AS n FROM _sessions WHERE id = 's1' AND revoke_reason = 'logout' AND revoked_at = ?1", [T0 + 1])).toBe(1);
      expect(await store.sessions.liveOwner("s1")).toBeNull();
      expect(await store.sessions.revokeOwned("s2", other.id, T0 + 3, "user")).toBe(false);
      expect(await store.sessions.liveOwner("s2")).toBe(u.id);
      expect(await store.sessions.revokeOwned("s2", u.id, T0 + 3, "user")).toBe(true);
      expect(await store.sessions.revokeOwned("s2", u.id, T0 + 4, "user")).toBe(false);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE revoked_at IS NULL")).toBe(0);
    });

    it("revokes every session of a user but one, and those opened while unverified", async () => {
      const { store, scalar } = await open();
      const u = await addUser(store, "a@x.io");
      const other = await addUser(store, "b@x.io");
      await open3(store, u.id, ["s1", "s2", "s3"], { unverified: ["s2"] });
      await open3(store, other.id, ["o1"]);
      await store.sessions.revokeUnverified(u.id, T0 + 1, "password_reset");
      expect((await store.sessions.listLive(u.id, T0 + 2)).map((s) => s.id)).toEqual(["s3", "s1"]);
      expect(await scalar("SELECT revoked_at FROM _refresh_tokens WHERE session_id = 's2'")).toBe(T0 + 1);
      expect(await store.sessions.revokeUser(u.id, T0 + 3, { exceptSessionId: "s3", reason: "password_change" })).toBe(1);
      expect((await store.sessions.listLive(u.id, T0 + 4)).map((s) => s.id)).toEqual(["s3"]);
      expect(await store.sessions.revokeUser(u.id, T0 + 5, { reason: "banned" })).toBe(1);
      expect(await store.sessions.listLive(u.id, T0 + 6)).toEqual([]);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens WHERE revoked_at IS NULL")).toBe(1);
      expect(await store.sessions.liveOwner("o1")).toBe(other.id);
    });

    it("prunes expired tokens, long-ended sessions and idle sessions without a usable token, and what they leave", async () => {
      const { store, scalar } = await open();
      const u = await addUser(store, "a@x.io");
      await open3(store, u.id, ["ended", "idle", "live"], { unverified: ["ended"] });
      await store.sessions.revoke("ended", T0 + 1, "logout");
      await store.sessions.touch("live", T0 + 70 * MIN);
      await store.refreshTokens.issue({ hash: "rt-live-2", sessionId: "live", nowMs: T0 + 70 * MIN, expiresAtMs: T0 + 130 * MIN });
      const pruned = await store.sessions.prune(T0 + 61 * MIN, { endedBeforeMs: T0 + 2, idleBeforeMs: T0 + 61 * MIN });
      // Tokens: the three first ones expired; sessions: "ended" (ended long enough ago) and "idle".
      expect(pruned).toEqual({ sessions: 2, refreshTokens: 3 });
      expect(await scalar("SELECT count(*) AS n FROM _sessions")).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _sessions_unverified")).toBe(0);
      expect(await scalar("SELECT count(*) AS n FROM _refresh_tokens")).toBe(1);
      expect(await store.sessions.liveOwner("live")).toBe(u.id);
    });
  });
}
