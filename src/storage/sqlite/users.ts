/**
 * The `users` group of the SQLite store: the auth table, whose shape comes from the project file,
 * and `_user_status` beside it.
 *
 * Rule: where the columns come from the project file (inserting and updating custom columns,
 * reading named custom columns, ref-target checks) the statement is built by drizzle from the
 * declared model, which quotes and binds every name. Statements that touch only the built-in
 * columns (password, verification, the session read of every authenticated request) are plain
 * prepared statements on the quoted table name: they are the hot paths, and their shape is fixed.
 */
import type { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { DrizzleQueryError, eq, sql } from "drizzle-orm";
import type { TableDef } from "../../config/types.ts";
import { userFromStoredRow, type DeleteResult, type SqlValue, type UserRow, type UserStatus, type UsersOps } from "../users.ts";
import { buildDrizzleTables } from "../schema/index.ts";
import { EMAIL_CANONICAL_COLUMN } from "../schema/builtins.ts";
import { StoreConstraintError, type ConstraintKind } from "../errors.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { prepared } from "./prepared.ts";
import type { SqliteStoreContext, Sync } from "./store.ts";

const NO_STATUS: UserStatus = { bannedAt: null, bannedUntil: null, banReason: null, lastLoginAt: null };

/** A raw row of the auth table -> UserRow (bool 0/1 decoded, internal columns dropped). */
export const userFromSqlite = userFromStoredRow;

/**
 * Drizzle wraps driver errors in DrizzleQueryError (whose message holds the SQL): hand callers
 * SQLite's own error (busy, I/O), and a refused value as the engine-neutral StoreConstraintError.
 */
function unwrapDbErrors<T>(run: () => T, table?: TableDef): T {
  try {
    return run();
  } catch (e) {
    const cause = e instanceof DrizzleQueryError && e.cause !== undefined ? e.cause : e;
    throw (table && sqliteConstraintError(cause, table)) ?? cause;
  }
}

const CONSTRAINT_KINDS: Record<string, ConstraintKind> = {
  SQLITE_CONSTRAINT_UNIQUE: "unique",
  SQLITE_CONSTRAINT_PRIMARYKEY: "unique",
  SQLITE_CONSTRAINT_NOTNULL: "not_null",
  SQLITE_CONSTRAINT_FOREIGNKEY: "foreign_key",
};

/** An SQLite constraint failure on the auth table as StoreConstraintError (other constraints, STRICT types: "check"). */
function sqliteConstraintError(e: unknown, table: TableDef): StoreConstraintError | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (!(e instanceof Error) || typeof code !== "string" || !code.startsWith("SQLITE_CONSTRAINT")) return null;
  return new StoreConstraintError(CONSTRAINT_KINDS[code] ?? "check", table.name, columnsNamed(e.message, table), { cause: e });
}

/** Column names of `table` mentioned in an SQLite constraint message, in order of appearance. */
function columnsNamed(message: string, table: TableDef): string[] {
  const known = [EMAIL_CANONICAL_COLUMN, ...table.columns.map((c) => c.name)];
  const found: { name: string; at: number }[] = [];
  for (const name of known) {
    const re = new RegExp(`(?:^|[\\s.,"(])${name}(?:$|[\\s.,")])`);
    const m = re.exec(message);
    if (m) found.push({ name, at: m.index });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.name);
}

export function sqliteUsers(ctx: SqliteStoreContext): Sync<UsersOps> {
  const db: Database = ctx.db;
  const config = ctx.config;
  // Built on first use: a project without an auth table (or never asked about users) builds none.
  let model: { orm: BunSQLiteDatabase; tables: ReturnType<typeof buildDrizzleTables> } | null = null;
  const drizzleModel = () => (model ??= { orm: drizzle({ client: db }), tables: buildDrizzleTables(config.tables) });
  let authDef: TableDef | null = null;
  const authTable = (): TableDef => {
    if (authDef) return authDef;
    const t = config.tables.find((x) => x.name === config.authTableName);
    if (!t) throw new Error(`project ${config.id} has no auth table`);
    return (authDef = t);
  };
  const declared = () => {
    const { orm, tables } = drizzleModel();
    const users = tables[authTable().name];
    if (!users) throw new Error(`project ${config.id}: no table model for ${authTable().name}`);
    return { orm, users };
  };
  let byCanonical: ReturnType<typeof prepareByCanonical> | null = null;
  let byId: ReturnType<typeof prepareById> | null = null;
  function prepareByCanonical() {
    const { orm, users } = declared();
    return orm.select().from(users).where(eq(users._email_canonical, sql.placeholder("canonical"))).prepare();
  }
  function prepareById() {
    const { orm, users } = declared();
    return orm.select().from(users).where(eq(users.id, sql.placeholder("id"))).prepare();
  }
  // Statements on the built-in columns; the table name is known only once the group is used.
  const t = (): string => quoteIdent(authTable().name);
  const lazySql = (build: () => string) => {
    let get: ReturnType<typeof prepared> | null = null;
    return () => (get ??= prepared(db, build()))();
  };
  // A scalar subquery rather than a JOIN: same two primary-key lookups, but measured several times
  // faster per call in bun:sqlite, and this statement runs on every authenticated request.
  const bySession = lazySql(
    () => `SELECT * FROM ${t()} WHERE "id" = ?2 AND (SELECT revoked_at IS NULL AND user_id = ?2 FROM _sessions WHERE id = ?1) = 1`,
  );
  const setPw = lazySql(
    () => `UPDATE ${t()} SET "password_hash" = ?, "_password_version" = "_password_version" + 1, "updated_at" = ? WHERE "id" = ? RETURNING "_password_version" AS v`,
  );
  const setPwIf = lazySql(
    () =>
      `UPDATE ${t()} SET "password_hash" = ?, "_password_version" = "_password_version" + 1, "updated_at" = ? WHERE "id" = ? AND "_password_version" = ? RETURNING "_password_version" AS v`,
  );
  const rehash = lazySql(() => `UPDATE ${t()} SET "password_hash" = ? WHERE "id" = ? AND "password_hash" = ?`);
  const verify = lazySql(() => `UPDATE ${t()} SET "email_verified" = 1, "updated_at" = ? WHERE "id" = ? AND "email_verified" = 0`);
  const changeEmail = lazySql(
    () => `UPDATE ${t()} SET "email" = ?, "_email_canonical" = ?, "email_verified" = 1, "_password_version" = "_password_version" + 1, "updated_at" = ? WHERE "id" = ?`,
  );
  const deleteUser = lazySql(() => `DELETE FROM ${t()} WHERE "id" = ?`);
  const deleteTokens = prepared(db, "DELETE FROM _refresh_tokens WHERE session_id IN (SELECT id FROM _sessions WHERE user_id = ?)");
  const deleteSessions = prepared(db, "DELETE FROM _sessions WHERE user_id = ?");
  const deleteLinks = prepared(db, "DELETE FROM _link_tokens WHERE user_id = ?");
  const deleteChanges = prepared(db, "DELETE FROM _email_changes WHERE user_id = ?");
  const statusGet = prepared(db, "SELECT banned_at, banned_until, ban_reason, last_login_at FROM _user_status WHERE user_id = ?");
  const statusBan = prepared(
    db,
    `INSERT INTO _user_status(user_id, banned_at, banned_until, ban_reason) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(user_id) DO UPDATE SET banned_at = ?2, banned_until = ?3, ban_reason = ?4`,
  );
  const statusUnban = prepared(db, "UPDATE _user_status SET banned_at = NULL, banned_until = NULL, ban_reason = NULL WHERE user_id = ?");
  const statusLogin = prepared(
    db,
    `INSERT INTO _user_status(user_id, last_login_at) VALUES (?1, ?2)
     ON CONFLICT(user_id) DO UPDATE SET last_login_at = ?2`,
  );
  const statusRemove = prepared(db, "DELETE FROM _user_status WHERE user_id = ?");

  const one = (raw: unknown): UserRow | null => (raw ? userFromSqlite(raw as Record<string, unknown>) : null);

  /** The first declared table whose `restrict` reference still points at `userId`, or null. */
  const restrictRefs = (): { table: string; column: string }[] => {
    const out: { table: string; column: string }[] = [];
    for (const table of config.tables) {
      for (const col of table.columns) {
        if (col.type === "ref" && col.refTable === config.authTableName && (col.onDelete ?? "restrict") === "restrict") out.push({ table: table.name, column: col.name });
      }
    }
    return out;
  };
  const blockingTable = (userId: string): string | null => {
    const { orm, tables } = drizzleModel();
    for (const ref of restrictRefs()) {
      const table = tables[ref.table];
      const column = table?.[ref.column as keyof typeof table];
      if (!table || !column) continue;
      if (orm.select({ x: sql`1` }).from(table).where(eq(column as never, userId)).limit(1).get() !== undefined) return ref.table;
    }
    return null;
  };

  const removeTx = db.transaction((userId: string): DeleteResult => {
    const blocked = blockingTable(userId);
    if (blocked !== null) return { ok: false, restrictedBy: blocked };
    try {
      deleteUser().run(userId);
    } catch (e) {
      // A restrict reference further down a cascade chain: the foreign key is the final guard.
      // (SQLite reports a RESTRICT action as SQLITE_CONSTRAINT_TRIGGER, with the foreign-key message.)
      const code = (e as { code?: unknown }).code;
      if (code === "SQLITE_CONSTRAINT_FOREIGNKEY" || (code === "SQLITE_CONSTRAINT_TRIGGER" && /FOREIGN KEY constraint failed/.test((e as Error).message))) {
        return { ok: false, restrictedBy: null };
      }
      throw e;
    }
    deleteTokens().run(userId);
    deleteSessions().run(userId);
    deleteLinks().run(userId);
    deleteChanges().run(userId);
    statusRemove().run(userId);
    return { ok: true };
  });

  return {
    findByCanonicalEmail: (canonical) => one(unwrapDbErrors(() => (byCanonical ??= prepareByCanonical()).get({ canonical }))),
    findById: (id) => one(unwrapDbErrors(() => (byId ??= prepareById()).get({ id }))),
    findBySession: (sessionId, userId) => one(bySession().get(sessionId, userId)),
    insert(values) {
      const { orm, users } = declared();
      return userFromSqlite(unwrapDbErrors(() => orm.insert(users).values(values).returning().get(), authTable()) as Record<string, unknown>);
    },
    update(id, values, nowIso) {
      const { orm, users } = declared();
      // Custom columns, and the built-in ones an admin may set (the address and its verification).
      const known = new Set([...authTable().columns.map((c) => c.name), "email", "_email_canonical", "email_verified"]);
      const set: Record<string, SqlValue> = { updated_at: nowIso };
      for (const [name, value] of Object.entries(values)) if (known.has(name)) set[name] = value;
      return one(unwrapDbErrors(() => orm.update(users).set(set).where(eq(users.id, id)).returning().get(), authTable()));
    },
    setPassword(id, hash, nowIso) {
      const r = setPw().get(hash, nowIso, id) as { v: number } | null;
      return r ? r.v : 0;
    },
    setPasswordIfVersion(id, hash, expectedVersion, nowIso) {
      const r = setPwIf().get(hash, nowIso, id, expectedVersion) as { v: number } | null;
      return r ? r.v : null;
    },
    replaceHash: (id, oldHash, newHash) => rehash().run(newHash, id, oldHash).changes === 1,
    markEmailVerified(id, nowIso) {
      verify().run(nowIso, id);
    },
    changeEmail(id, email, canonical, nowIso) {
      try {
        changeEmail().run(email, canonical, nowIso, id);
        return "ok";
      } catch (e) {
        if ((e as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") return "taken";
        throw e;
      }
    },
    refExists(target, id) {
      // The target table is only known from the project file: drizzle's model quotes and binds it.
      const { orm, tables } = drizzleModel();
      const ref = tables[target];
      if (!ref) return false;
      return orm.select({ x: sql`1` }).from(ref).where(eq(ref.id, id)).limit(1).get() !== undefined;
    },
    readColumns(id, columns) {
      const { orm, users } = declared();
      const pick: Record<string, (typeof users)["id"]> = {};
      for (const name of columns) {
        const col = users[name as keyof typeof users];
        if (col) pick[name] = col as (typeof users)["id"];
      }
      if (Object.keys(pick).length === 0) return findOrNull(orm, users, id);
      return (orm.select(pick).from(users).where(eq(users.id, id)).get() as Record<string, unknown> | undefined) ?? null;
    },
    remove: (id) => removeTx(id),
    status(id) {
      const r = statusGet().get(id) as { banned_at: number | null; banned_until: number | null; ban_reason: string | null; last_login_at: number | null } | null;
      if (!r) return NO_STATUS;
      return { bannedAt: r.banned_at, bannedUntil: r.banned_until, banReason: r.ban_reason, lastLoginAt: r.last_login_at };
    },
    setBan(id, ban) {
      statusBan().run(id, ban.nowMs, ban.untilMs, ban.reason);
    },
    clearBan(id) {
      statusUnban().run(id);
    },
    recordLogin(id, nowMs) {
      statusLogin().run(id, nowMs);
    },
  };
}

function findOrNull(orm: BunSQLiteDatabase, users: ReturnType<typeof buildDrizzleTables>[string], id: string): Record<string, unknown> | null {
  return orm.select({ id: users.id }).from(users).where(eq(users.id, id)).get() ? {} : null;
}
