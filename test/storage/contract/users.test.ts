/**
 * Store contract, `users`: the auth table and the per-user status on SQLite and PostgreSQL. Rows
 * read back alike on both engines (integers as numbers, built-ins decoded); a refused value comes
 * back as StoreConstraintError; 50 concurrent signups of one canonical email from 50 connections
 * leave one row (the unique index decides).
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { StoreConstraintError } from "../../../src/storage/errors.ts";
import { authSpec } from "../../helpers/auth.ts";
import { addUser, ENGINES, releaseEngines, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);
const ISO = new Date(T0).toISOString();
const LATER = new Date(T0 + 1000).toISOString();

const spec = () =>
  authSpec({ columns: { display_name: "string max_length 80", age: "int", score: "float", newsletter: "bool default false", nickname: "string unique" } });

function userValues(email: string, extra: Record<string, string | number | null> = {}): Record<string, string | number | null> {
  return {
    id: crypto.randomUUID(),
    email,
    _email_canonical: email.toLowerCase(),
    email_verified: 0,
    password_hash: "h0",
    _password_version: 1,
    created_at: ISO,
    updated_at: ISO,
    ...extra,
  };
}

async function refusal(p: Promise<unknown>): Promise<StoreConstraintError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StoreConstraintError);
    return e as StoreConstraintError;
  }
  throw new Error("the write was not refused");
}

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: users (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (s = spec()): Promise<Harness> => (h = await engine.open(s));

    it("inserts a user and reads it back by canonical email and id, values as stored, private columns dropped", async () => {
      const { store } = await open();
      const values = userValues("Ann@X.io", { display_name: "Ann", age: 41, score: 2.5, newsletter: 1 });
      const inserted = await store.users.insert(values);
      const expected = {
        id: values.id as string,
        email: "Ann@X.io",
        email_verified: false,
        password_hash: "h0",
        password_version: 1,
        created_at: ISO,
        updated_at: ISO,
        display_name: "Ann",
        age: 41,
        score: 2.5,
        newsletter: 1,
        nickname: null,
      };
      expect(inserted).toEqual(expected);
      expect(await store.users.findByCanonicalEmail("ann@x.io")).toEqual(expected);
      expect(await store.users.findById(values.id as string)).toEqual(expected);
      expect(await store.users.findById("nobody")).toBeNull();
      expect(await store.users.findByCanonicalEmail("nobody@x.io")).toBeNull();
      expect(await store.users.readColumns(values.id as string, ["display_name", "age", "not_a_column"])).toEqual({ display_name: "Ann", age: 41 });
      expect(await store.users.readColumns(values.id as string, [])).toEqual({});
      expect(await store.users.readColumns("nobody", ["age"])).toBeNull();
    });

    it("finds the user of a live session only, and only for that user", async () => {
      const { store } = await open();
      const a = await addUser(store, "a@x.io");
      const b = await addUser(store, "b@x.io");
      await store.sessions.create({ id: "s1", userId: a.id, nowMs: T0, ip: null, userAgent: null, unverified: false });
      expect((await store.users.findBySession("s1", a.id))?.id).toBe(a.id);
      expect(await store.users.findBySession("s1", b.id)).toBeNull();
      expect(await store.users.findBySession("nope", a.id)).toBeNull();
      await store.sessions.revoke("s1", T0 + 1, "logout");
      expect(await store.users.findBySession("s1", a.id)).toBeNull();
    });

    it("updates declared columns (and updated_at), ignores others, and answers null for a missing user", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      const updated = await store.users.update(u.id, { display_name: "New", age: 7, password_hash: "sneaky", email_verified: 1 }, LATER);
      expect(updated).toMatchObject({ display_name: "New", age: 7, password_hash: u.password_hash, email_verified: true, updated_at: LATER });
      expect(await store.users.update("nobody", { age: 1 }, LATER)).toBeNull();
    });

    it("sets passwords with a version bump, conditionally on the version, and upgrades a hash only while unchanged", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      expect(await store.users.setPassword(u.id, "h1", LATER)).toBe(2);
      expect(await store.users.setPassword("nobody", "h1", LATER)).toBe(0);
      expect(await store.users.setPasswordIfVersion(u.id, "h2", 1, LATER)).toBeNull();
      expect(await store.users.setPasswordIfVersion(u.id, "h2", 2, LATER)).toBe(3);
      expect(await store.users.replaceHash(u.id, "h1", "h1-up")).toBe(false);
      expect(await store.users.replaceHash(u.id, "h2", "h2-up")).toBe(true);
      expect(await store.users.findById(u.id)).toMatchObject({ password_hash: "h2-up", password_version: 3, updated_at: LATER });
    });

    it("marks the email verified, and changes it unless another account holds the canonical address", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      await addUser(store, "b@x.io");
      await store.users.markEmailVerified(u.id, LATER);
      expect(await store.users.findById(u.id)).toMatchObject({ email_verified: true, updated_at: LATER });
      expect(await store.users.changeEmail(u.id, "B@x.io", "b@x.io", LATER)).toBe("taken");
      expect(await store.users.changeEmail(u.id, "C@x.io", "c@x.io", LATER)).toBe("ok");
      expect(await store.users.findByCanonicalEmail("c@x.io")).toMatchObject({ id: u.id, email: "C@x.io", email_verified: true, password_version: 2 });
    });

    it("throws StoreConstraintError for a duplicate email, a duplicate unique column, a missing required value, a bad bool", async () => {
      const { store } = await open(authSpec({ columns: { nickname: "string unique", code: "string required", flag: "bool default false" } }));
      await store.users.insert(userValues("a@x.io", { nickname: "n", code: "c" }));
      const email = await refusal(store.users.insert(userValues("A@X.IO", { code: "c" })));
      expect([email.kind, email.table, email.columns]).toEqual(["unique", "users", ["_email_canonical"]]);
      const nick = await refusal(store.users.insert(userValues("b@x.io", { nickname: "n", code: "c" })));
      expect([nick.kind, nick.columns]).toEqual(["unique", ["nickname"]]);
      const missing = await refusal(store.users.insert(userValues("c@x.io", { code: null })));
      expect([missing.kind, missing.columns]).toEqual(["not_null", ["code"]]);
      const flag = await refusal(store.users.insert(userValues("d@x.io", { code: "c", flag: 7 })));
      expect([flag.kind, flag.columns]).toEqual(["check", ["flag"]]);
      const other = await store.users.insert(userValues("f@x.io", { code: "c" }));
      const dup = await refusal(store.users.update(other.id, { nickname: "n" }, LATER));
      expect([dup.kind, dup.columns]).toEqual(["unique", ["nickname"]]);
    });

    it("checks ref targets, keeps a ban and the last login, and clears a ban", async () => {
      const { store } = await open();
      const u = await addUser(store, "a@x.io");
      expect(await store.users.refExists("users", u.id)).toBe(true);
      expect(await store.users.refExists("users", "nobody")).toBe(false);
      expect(await store.users.refExists("no_such_table", u.id)).toBe(false);
      expect(await store.users.status(u.id)).toEqual({ bannedAt: null, bannedUntil: null, banReason: null, lastLoginAt: null });
      await store.users.recordLogin(u.id, T0);
      await store.users.setBan(u.id, { nowMs: T0 + 1, untilMs: T0 + 1000, reason: "spam" });
      expect(await store.users.status(u.id)).toEqual({ bannedAt: T0 + 1, bannedUntil: T0 + 1000, banReason: "spam", lastLoginAt: T0 });
      await store.users.clearBan(u.id);
      await store.users.recordLogin(u.id, T0 + 5);
      expect(await store.users.status(u.id)).toEqual({ bannedAt: null, bannedUntil: null, banReason: null, lastLoginAt: T0 + 5 });
    });

    it("refuses to delete a user a restrict reference points at, then deletes the user and everything theirs", async () => {
      const s = authSpec();
      (s.tables as Record<string, unknown>).notes = { columns: { owner: "ref users required" } };
      const { store, exec, scalar } = await open(s);
      const u = await addUser(store, "a@x.io");
      const other = await addUser(store, "b@x.io");
      await store.sessions.create({ id: "s1", userId: u.id, nowMs: T0, ip: null, userAgent: "ua", unverified: true });
      await store.sessions.create({ id: "s2", userId: other.id, nowMs: T0, ip: null, userAgent: "ua", unverified: false });
      await store.refreshTokens.issue({ hash: "rt1", sessionId: "s1", nowMs: T0, expiresAtMs: T0 + 60_000 });
      await store.linkTokens.issue({ id: "l1", hash: "lh1", kind: "verify", userId: u.id, email: "a@x.io", nowMs: T0, expiresAtMs: T0 + 60_000 });
      await store.linkTokens.addEmailChange({ userId: u.id, oldEmail: "a@x.io", newEmail: "z@x.io", newCanonical: "z@x.io", tokenId: "l1", nowMs: T0 });
      await store.users.setBan(u.id, { nowMs: T0, untilMs: null, reason: null });
      await exec("INSERT INTO notes (id, created_at, updated_at, owner) VALUES ('n1', 'x', 'x', ?1)", [u.id]);
      expect(await store.users.remove(u.id)).toEqual({ ok: false, restrictedBy: "notes" });
      expect(await store.users.findById(u.id)).not.toBeNull();
      expect(await store.sessions.liveOwner("s1")).toBe(u.id);
      await exec("DELETE FROM notes");
      expect(await store.users.remove(u.id)).toEqual({ ok: true });
      expect(await store.users.findById(u.id)).toBeNull();
      for (const table of ["_sessions", "_refresh_tokens", "_link_tokens", "_email_changes", "_user_status"]) {
        const column = table === "_refresh_tokens" ? "session_id" : "user_id";
        const key = table === "_refresh_tokens" ? "s1" : u.id;
        expect(await scalar(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?1`, [key])).toBe(0);
      }
      expect(await store.sessions.liveOwner("s2")).toBe(other.id);
    });

    it("50 concurrent signups of one canonical email from 50 connections leave one row; the others are refused as duplicates", async () => {
      const { replicas, scalar } = await open();
      const stores = await replicas(50);
      const results = await Promise.allSettled(stores.map((r, i) => r.users.insert(userValues(i % 2 ? "Race@X.io" : "race@x.io"))));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(r.reason).toBeInstanceOf(StoreConstraintError);
          expect([(r.reason as StoreConstraintError).kind, (r.reason as StoreConstraintError).columns]).toEqual(["unique", ["_email_canonical"]]);
        }
      }
      expect(await scalar("SELECT count(*) AS n FROM users WHERE _email_canonical = 'race@x.io'")).toBe(1);
    });
  });
}
