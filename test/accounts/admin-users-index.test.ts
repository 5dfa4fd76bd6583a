/**
 * GET /v1/users filters read an index that holds only candidates (SPEC 12: "p50 ≤ 20 ms for any
 * page"): the query plans name the index, filtered pages keep the (created_at, id) order and the
 * exactly-once cursor, and a database made before these indexes gets them at boot.
 */
import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import type { TestInstance } from "../helpers/instance.ts";
import { runtimeOf } from "../helpers/auth.ts";
import { sqliteOpsOf } from "../../src/storage/sqlite/store.ts";
import { listUsers, parseUserListQuery, type UserListQuery } from "../../src/modules/admin-users/list.ts";
import { ACTIVE_BANS_SQL, ANY_ACTIVE_BAN_SQL, userListSql, userWindowSql } from "../../src/storage/sqlite/user-listing.ts";
import type { ProjectRuntime } from "../../src/projects/runtime.ts";
import { accountsInstance, admin } from "./helpers.ts";

const sqlite = sqliteOnly("seeds users in one SQLite transaction and reads SQLite query plans");

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

const VERIFIED_IDX = "users__email_verified_created_at_id_idx";
const ORDER_IDX = "users__created_at_id_idx";
const BAN_IDX = "_user_status_banned";

interface Seeded {
  id: string;
  at: string;
  verified: boolean;
  banned: boolean;
}

/**
 * `n` users straight into the database, seven per created_at (the id breaks ties), every third
 * verified; `banEvery` > 0 bans every such user: a third open-ended, a third until later, a third
 * with a ban already over (not banned).
 */
function seed(p: ProjectRuntime, n: number, nowMs: number, banEvery = 0): Seeded[] {
  const insert = p.db.prepare(
    `INSERT INTO users(id, created_at, updated_at, email, _email_canonical, password_hash, email_verified) VALUES (?, ?, ?, ?, ?, 'x', ?)`,
  );
  const out: Seeded[] = [];
  p.db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = crypto.randomUUID();
      const at = new Date(nowMs - 86_400_000 + Math.floor(i / 7) * 1000).toISOString();
      const verified = i % 3 === 0;
      insert.run(id, at, at, `seed${i}@example.com`, `seed${i}@example.com`, verified ? 1 : 0);
      let banned = false;
      if (banEvery > 0 && i % banEvery === 0) {
        const kind = (i / banEvery) % 3;
        const untilMs = kind === 0 ? null : kind === 1 ? nowMs + 3_600_000 : nowMs - 1;
        sqliteOpsOf(p.store).users.setBan(id, { nowMs: nowMs - 7_200_000, untilMs, reason: null });
        banned = kind !== 2;
      }
      out.push({ id, at, verified, banned });
    }
  })();
  return out;
}

function plan(p: ProjectRuntime, q: Omit<UserListQuery, "limit">, nowMs: number, opts: Parameters<typeof userListSql>[3] = {}): string[] {
  return explain(p, userListSql("users", { limit: 50, ...q }, nowMs, opts));
}

function explain(p: ProjectRuntime, { sql, args }: { sql: string; args: (string | number)[] }): string[] {
  const stmt = p.db.prepare(`EXPLAIN QUERY PLAN ${sql}`); // not cached, so an index can be dropped after
  try {
    return (stmt.all(...args) as { detail: string }[]).map((r) => r.detail);
  } finally {
    stmt.finalize();
  }
}

sqlite.describe("GET /v1/users: the query plan of each filter", () => {
  it("reads the verified index for verified (with or without banned=false), the ban index for banned=true", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const now = inst.clock.now;
    // Nobody verified, nobody banned: the data that made a filtered page walk every user.
    const insert = p.db.prepare(`INSERT INTO users(id, created_at, updated_at, email, _email_canonical, password_hash) VALUES (?, ?, ?, ?, ?, 'x')`);
    p.db.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        const at = new Date(now - 86_400_000 + i * 1000).toISOString();
        insert.run(crypto.randomUUID(), at, at, `n${i}@example.com`, `n${i}@example.com`);
      }
    })();
    p.db.exec("ANALYZE"); // statistics that say email_verified is always 0, as PRAGMA optimize would gather
    const after = { after: [new Date(now).toISOString(), "00000000-0000-4000-8000-000000000000"] as const };

    for (const verified of [true, false]) {
      for (const extra of [{}, { banned: false }, after, { banned: false, ...after }]) {
        const steps = plan(p, { verified, ...extra }, now);
        const cursor = "after" in extra ? " AND (created_at,id)>(?,?)" : "";
        expect(steps[0]).toBe(`SEARCH u USING INDEX ${VERIFIED_IDX} (email_verified=?${cursor})`);
        expect(steps.join("\n")).not.toContain("TEMP B-TREE"); // rows come in page order: no sort
      }
    }
    // banned=true: a window of users in page order (index only), the walk up to it, then the bans in force.
    const upTo = [new Date(now + 5000).toISOString(), "ffffffff-ffff-4fff-bfff-ffffffffffff"] as const;
    for (const extra of [{}, after]) {
      const cursor = "after" in extra ? "(created_at,id)>(?,?)" : "";
      expect(explain(p, userWindowSql("users", { limit: 50, ...extra }, 2000))).toEqual([`${cursor ? "SEARCH" : "SCAN"} u USING COVERING INDEX ${ORDER_IDX}${cursor ? ` (${cursor})` : ""}`]);
      for (const verified of [true, false]) {
        expect(explain(p, userWindowSql("users", { limit: 50, verified, ...extra }, 2000)))
          .toEqual([`SEARCH u USING COVERING INDEX ${VERIFIED_IDX} (email_verified=?${cursor ? ` AND ${cursor}` : ""})`]);
      }
    }
    expect(explain(p, { sql: ACTIVE_BANS_SQL, args: [now] })).toEqual([`SEARCH s USING COVERING INDEX ${BAN_IDX} (<expr>>?)`]);
    expect(explain(p, { sql: ANY_ACTIVE_BAN_SQL, args: [now] })).toEqual([`SEARCH s USING COVERING INDEX ${BAN_IDX} (<expr>>?)`]);
    for (const extra of [{}, after, { verified: true }, { verified: false, ...after }]) {
      const walk = plan(p, { banned: true, ...extra }, now, { drive: "users", upTo });
      const range = `${"after" in extra ? "(created_at,id)>(?,?) AND " : ""}(created_at,id)<(?,?)`;
      expect(walk[0]).toBe(`SEARCH u USING INDEX ${"verified" in extra ? `${VERIFIED_IDX} (email_verified=? AND ${range})` : `${ORDER_IDX} (${range})`}`);
      expect(walk[1]).toBe("SEARCH s USING PRIMARY KEY (user_id=?)");
      expect(walk.join("\n")).not.toContain("TEMP B-TREE");
      const steps = plan(p, { banned: true, ...extra }, now, { drive: "bans" });
      expect(steps[0]).toBe(`SEARCH s USING INDEX ${BAN_IDX} (<expr>>?)`);
      expect(steps[1]).toBe("SEARCH u USING INDEX sqlite_autoindex_users_1 (id=?)");
    }
    expect(plan(p, {}, now)[0]).toBe(`SCAN u USING INDEX ${ORDER_IDX}`);
    expect(plan(p, { banned: false, ...after }, now)[0]).toBe(`SEARCH u USING INDEX ${ORDER_IDX} ((created_at,id)>(?,?))`);

    // The assertions above can fail: without the indexes the same queries walk something else.
    p.db.exec(`DROP INDEX ${VERIFIED_IDX}; DROP INDEX ${BAN_IDX}`);
    expect(plan(p, { verified: false }, now)[0]).not.toContain(VERIFIED_IDX);
    expect(plan(p, { banned: true }, now, { drive: "bans" })[0]).not.toContain(BAN_IDX);
  });
});

sqlite.describe("GET /v1/users: filtered pages", () => {
  it("page every filter combination in (created_at, id) order, each matching user exactly once", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const users = seed(p, 700, inst.clock.now, 4);
    const order = [...users].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1));
    const combos: { verified?: boolean; banned?: boolean }[] = [
      {}, { verified: true }, { verified: false }, { banned: true }, { banned: false },
      { banned: false, verified: true }, { banned: false, verified: false }, { banned: true, verified: true }, { banned: true, verified: false },
    ];
    for (const c of combos) {
      const want = order.filter((u) => (c.verified === undefined || u.verified === c.verified) && (c.banned === undefined || u.banned === c.banned));
      expect(want.length).toBeGreaterThan(20);
      const got: string[] = [];
      let cursor: string | null = null;
      do {
        const qs = new URLSearchParams({ limit: "13", ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, String(v)])) });
        if (cursor) qs.set("cursor", cursor);
        const r = await admin(inst, "GET", `/users?${qs}`);
        expect(r.status).toBe(200);
        for (const u of r.body.data.users as { id: string; banned: boolean; email_verified: boolean }[]) {
          if (c.banned !== undefined) expect(u.banned).toBe(c.banned);
          if (c.verified !== undefined) expect(u.email_verified).toBe(c.verified);
          got.push(u.id);
        }
        cursor = r.body.data.next_cursor;
      } while (cursor !== null);
      expect({ c, got }).toEqual({ c, got: want.map((u) => u.id) });
    }
  }, 60_000);

  it("banned=true gives the same pages whether they come from the walk, the bans in force or both", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const users = seed(p, 900, inst.clock.now, 2);
    // Bans only among the first 300 and the last 300 users: a gap that no window of 16 bridges.
    const middle = new Set(users.slice(300, 600).map((u) => u.id));
    p.db.query(`DELETE FROM _user_status WHERE user_id IN (${[...middle].map(() => "?").join(",")})`).run(...middle);
    const order = [...users].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1));
    for (const verified of [undefined, true, false]) {
      const want = order.filter((u) => u.banned && !middle.has(u.id) && (verified === undefined || u.verified === verified)).map((u) => u.id);
      expect(want.length).toBeGreaterThan(40);
      for (const [window, perBan] of [[1, 0], [16, 0], [16, 1], [2000, 0], [1, 10]]) {
        for (const limit of [1, 7, 200]) {
          const got: string[] = [];
          let cursor: string | null = null;
          do {
            const query: Record<string, string> = { banned: "true", limit: String(limit) };
            if (verified !== undefined) query.verified = String(verified);
            if (cursor) query.cursor = cursor;
            const page = await listUsers(p, parseUserListQuery(p, query), { min: window, perBan });
            expect(page.users.length).toBeLessThanOrEqual(limit);
            got.push(...page.users.map((u) => u.id as string));
            cursor = page.next_cursor;
          } while (cursor !== null);
          expect({ verified, window, perBan, limit, got }).toEqual({ verified, window, perBan, limit, got: want });
        }
      }
    }
  }, 60_000);

  it("lists a ban once it ends as not banned, without a write", async () => {
    inst = await accountsInstance();
    const p = runtimeOf(inst);
    const [u] = seed(p, 1, inst.clock.now);
    sqliteOpsOf(p.store).users.setBan(u.id, { nowMs: inst.clock.now, untilMs: inst.clock.now + 1000, reason: "cool off" });
    const ids = async (qs: string) => ((await admin(inst, "GET", `/users?${qs}`)).body.data.users as { id: string }[]).map((x) => x.id);
    expect(await ids("banned=true")).toEqual([u.id]);
    expect(await ids("banned=false")).toEqual([]);
    inst.clock.advance(1000);
    expect(await ids("banned=true")).toEqual([]);
    expect(await ids("banned=false")).toEqual([u.id]);
  });
});

sqlite.describe("a database made before the filter indexes", () => {
  it("gets the verified index (an additive schema change) and the ban index at boot", async () => {
    inst = await accountsInstance();
    let p = runtimeOf(inst);
    // Turn it back into a database of the previous version: no indexes, a snapshot without the new one.
    p.db.exec(`DROP INDEX ${VERIFIED_IDX}; DROP INDEX ${BAN_IDX}`);
    const row = p.db.query("SELECT value FROM _latchkey_meta WHERE key = 'model'").get() as { value: string };
    const model = JSON.parse(row.value) as { tables: { name: string; indexes: { name: string }[] }[] };
    const usersModel = model.tables.find((t) => t.name === "users")!;
    const before = usersModel.indexes.length;
    usersModel.indexes = usersModel.indexes.filter((i) => i.name !== VERIFIED_IDX);
    expect(usersModel.indexes.length).toBe(before - 1);
    p.db.query("UPDATE _latchkey_meta SET value = ? WHERE key = 'model'").run(JSON.stringify(model));

    await inst.restart();
    p = runtimeOf(inst);
    const indexes = (p.db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (?, ?) ORDER BY name").all(BAN_IDX, VERIFIED_IDX) as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual([BAN_IDX, VERIFIED_IDX]);
    const history = p.db.query("SELECT kind, table_name, destructive, sql FROM _schema_history WHERE kind = 'add_index'").all();
    expect(history).toEqual([
      { kind: "add_index", table_name: "users", destructive: 0, sql: `CREATE INDEX "${VERIFIED_IDX}" ON "users" ("email_verified", "created_at", "id")` },
    ]);
    expect((await admin(inst, "GET", "/users?verified=false&banned=false")).status).toBe(200);
  });
});
