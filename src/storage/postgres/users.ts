/**
 * The `users` group of the PostgreSQL store: the auth table (its shape comes from the project file)
 * and `_user_status` beside it. Every table and column name in a statement is either a fixed
 * internal name or a name of the declared model (validated by the project file's schema), always
 * quoted; every value is bound. Uniqueness of the canonical email is decided by the unique index:
 * its violation comes back as StoreConstraintError, as from the SQLite engine.
 */
import type { TableDef } from "../../config/types.ts";
import { userFromStoredRow, type DeleteResult, type SqlValue, type UserRow, type UserStatus, type Users } from "../users.ts";
import { buildModelTable, type ModelTable } from "../schema/model.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { pgConstraintError } from "./constraint.ts";
import { atomic, changes, FOREIGN_KEY_VIOLATION, num, numOrNull, recoverable, rows, sqlState, UNIQUE_VIOLATION, type PgRunner } from "./run.ts";
import type { PgGroupContext } from "./store.ts";

const NO_STATUS: UserStatus = { bannedAt: null, bannedUntil: null, banReason: null, lastLoginAt: null };

/** The declared auth table as this engine needs it, computed once per store. */
export interface AuthModel {
  readonly def: TableDef;
  readonly model: ModelTable;
  /** The table, qualified by the project's schema and quoted. */
  readonly table: string;
  /** Columns stored as BIGINT (PostgreSQL hands them over as text; the services read numbers). */
  readonly integers: ReadonlySet<string>;
  readonly columns: ReadonlySet<string>;
  /**
   * The model's columns, quoted, for SELECT and RETURNING: never `*`, so a column another replica
   * (or a reload) adds meanwhile changes no cached statement's result type and shows nowhere before
   * this store's project file declares it.
   */
  readonly select: string;
}

export function authModelOf(ctx: Pick<PgGroupContext, "config" | "schema">): AuthModel {
  const def = ctx.config.tables.find((x) => x.name === ctx.config.authTableName);
  if (!def) throw new Error(`project ${ctx.config.id} has no auth table`);
  const model = buildModelTable(def);
  return {
    def,
    model,
    table: `${ctx.schema}.${quoteIdent(def.name)}`,
    integers: new Set(model.columns.filter((c) => c.sqlType === "INTEGER").map((c) => c.name)),
    columns: new Set(model.columns.map((c) => c.name)),
    select: model.columns.map((c) => quoteIdent(c.name)).join(", "),
  };
}

/** A raw row -> the stored values SQLite would give (integers as numbers). */
function decodeInts(raw: Record<string, unknown>, integers: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const name of integers) if (out[name] !== null && out[name] !== undefined) out[name] = num(out[name]);
  return out;
}

/** A raw row -> UserRow: PostgreSQL's BIGINT columns back to numbers, then the shared decoding. */
export function userFromRow(raw: Record<string, unknown>, integers: ReadonlySet<string>): UserRow {
  return userFromStoredRow(decodeInts(raw, integers));
}

export function pgUsers(ctx: PgGroupContext, r: PgRunner): Users {
  const s = ctx.schema;
  const auth = (): AuthModel => ctx.auth();
  const one = (found: Record<string, unknown>[]): UserRow | null => (found[0] ? userFromRow(found[0], auth().integers) : null);
  /** Writes to the auth table: a refused value comes back engine-neutral. */
  const writing = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw pgConstraintError(e, auth().def) ?? e;
    }
  };
  const declaredTable = (name: string): TableDef | undefined => ctx.config.tables.find((t) => t.name === name);

  /** The declared tables and columns whose `restrict` reference points at the auth table. */
  const restrictRefs = (): { table: string; column: string }[] => {
    const out: { table: string; column: string }[] = [];
    for (const table of ctx.config.tables) {
      for (const col of table.columns) {
        if (col.type === "ref" && col.refTable === ctx.config.authTableName && (col.onDelete ?? "restrict") === "restrict") out.push({ table: table.name, column: col.name });
      }
    }
    return out;
  };

  return {
    findByCanonicalEmail: async (canonical) => one(await rows(r.q, `SELECT ${auth().select} FROM ${auth().table} WHERE "_email_canonical" = $1`, [canonical])),
    findById: async (id) => one(await rows(r.q, `SELECT ${auth().select} FROM ${auth().table} WHERE "id" = $1`, [id])),
    findBySession: async (sessionId, userId) =>
      one(
        await rows(
          r.q,
          `SELECT ${auth().select} FROM ${auth().table} WHERE "id" = $2
             AND EXISTS (SELECT 1 FROM ${s}._sessions WHERE id = $1 AND revoked_at IS NULL AND user_id = $2)`,
          [sessionId, userId],
        ),
      ),
    insert(values) {
      const a = auth();
      const names = Object.keys(values).filter((n) => a.columns.has(n));
      const text = `INSERT INTO ${a.table} (${names.map(quoteIdent).join(", ")}) VALUES (${names.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING ${a.select}`;
      return writing(async () => userFromRow((await rows<Record<string, unknown>>(r.q, text, names.map((n) => values[n])))[0]!, a.integers));
    },
    update(id, values, nowIso) {
      const a = auth();
      // Custom columns, and the built-in ones an admin may set (the address and its verification).
      const known = new Set([...a.def.columns.map((c) => c.name), "email", "_email_canonical", "email_verified"]);
      const set: Record<string, SqlValue> = { updated_at: nowIso };
      for (const [name, value] of Object.entries(values)) if (known.has(name)) set[name] = value;
      const names = Object.keys(set);
      const text = `UPDATE ${a.table} SET ${names.map((n, i) => `${quoteIdent(n)} = $${i + 1}`).join(", ")} WHERE "id" = $${names.length + 1} RETURNING ${a.select}`;
      return writing(async () => one(await rows(r.q, text, [...names.map((n) => set[n]), id])));
    },
    async setPassword(id, hash, nowIso) {
      const [x] = await rows<{ v: unknown }>(
        r.q,
        `UPDATE ${auth().table} SET "password_hash" = $1, "_password_version" = "_password_version" + 1, "updated_at" = $2 WHERE "id" = $3 RETURNING "_password_version" AS v`,
        [hash, nowIso, id],
      );
      return x ? num(x.v) : 0;
    },
    async setPasswordIfVersion(id, hash, expectedVersion, nowIso) {
      const [x] = await rows<{ v: unknown }>(
        r.q,
        `UPDATE ${auth().table} SET "password_hash" = $1, "_password_version" = "_password_version" + 1, "updated_at" = $2
          WHERE "id" = $3 AND "_password_version" = $4 RETURNING "_password_version" AS v`,
        [hash, nowIso, id, expectedVersion],
      );
      return x ? num(x.v) : null;
    },
    replaceHash: async (id, oldHash, newHash) =>
      (await changes(r.q, `UPDATE ${auth().table} SET "password_hash" = $1 WHERE "id" = $2 AND "password_hash" = $3`, [newHash, id, oldHash])) === 1,
    async markEmailVerified(id, nowIso) {
      await r.q.unsafe(`UPDATE ${auth().table} SET "email_verified" = 1, "updated_at" = $1 WHERE "id" = $2 AND "email_verified" = 0`, [nowIso, id]);
    },
    async changeEmail(id, email, canonical, nowIso) {
      try {
        // A savepoint inside a transaction: the unique violation must not abort the caller's work.
        await recoverable(r, (q) =>
          q.unsafe(
            `UPDATE ${auth().table} SET "email" = $1, "_email_canonical" = $2, "email_verified" = 1, "_password_version" = "_password_version" + 1, "updated_at" = $3 WHERE "id" = $4`,
            [email, canonical, nowIso, id],
          ),
        );
        return "ok";
      } catch (e) {
        if (sqlState(e) === UNIQUE_VIOLATION) return "taken";
        throw e;
      }
    },
    async refExists(target, id) {
      // The target is only known from the project file: a declared table's name, quoted.
      if (!declaredTable(target)) return false;
      return (await rows(r.q, `SELECT 1 AS x FROM ${s}.${quoteIdent(target)} WHERE "id" = $1 LIMIT 1`, [id])).length > 0;
    },
    async readColumns(id, columns) {
      const a = auth();
      const pick = columns.filter((c) => a.columns.has(c));
      if (pick.length === 0) return (await rows(r.q, `SELECT 1 AS x FROM ${a.table} WHERE "id" = $1`, [id])).length > 0 ? {} : null;
      const [x] = await rows<Record<string, unknown>>(r.q, `SELECT ${pick.map(quoteIdent).join(", ")} FROM ${a.table} WHERE "id" = $1`, [id]);
      return x ? decodeInts(x, a.integers) : null;
    },
    remove: (id) =>
      atomic(r, async (q): Promise<DeleteResult> => {
        for (const ref of restrictRefs()) {
          const found = await rows(q, `SELECT 1 AS x FROM ${s}.${quoteIdent(ref.table)} WHERE ${quoteIdent(ref.column)} = $1 LIMIT 1`, [id]);
          if (found.length > 0) return { ok: false, restrictedBy: ref.table };
        }
        // The session rows first (the lock order of sessions.ts), then what hangs off them.
        await q.unsafe(`SELECT id FROM ${s}._sessions WHERE user_id = $1 FOR UPDATE`, [id]);
        try {
          await q.savepoint((sp) => sp.unsafe(`DELETE FROM ${auth().table} WHERE "id" = $1`, [id]));
        } catch (e) {
          // A restrict reference further down a cascade chain (or one added meanwhile): the foreign key is the final guard.
          if (sqlState(e) === FOREIGN_KEY_VIOLATION) return { ok: false, restrictedBy: null };
          throw e;
        }
        await q.unsafe(`DELETE FROM ${s}._refresh_tokens WHERE session_id IN (SELECT id FROM ${s}._sessions WHERE user_id = $1)`, [id]);
        await q.unsafe(`DELETE FROM ${s}._sessions WHERE user_id = $1`, [id]);
        await q.unsafe(`DELETE FROM ${s}._link_tokens WHERE user_id = $1`, [id]);
        await q.unsafe(`DELETE FROM ${s}._email_changes WHERE user_id = $1`, [id]);
        await q.unsafe(`DELETE FROM ${s}._user_status WHERE user_id = $1`, [id]);
        return { ok: true };
      }),
    async status(id) {
      const [x] = await rows<Record<string, unknown>>(r.q, `SELECT banned_at, banned_until, ban_reason, last_login_at FROM ${s}._user_status WHERE user_id = $1`, [id]);
      if (!x) return NO_STATUS;
      return {
        bannedAt: numOrNull(x.banned_at),
        bannedUntil: numOrNull(x.banned_until),
        banReason: (x.ban_reason as string | null) ?? null,
        lastLoginAt: numOrNull(x.last_login_at),
      };
    },
    async setBan(id, ban) {
      await r.q.unsafe(
        `INSERT INTO ${s}._user_status (user_id, banned_at, banned_until, ban_reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET banned_at = EXCLUDED.banned_at, banned_until = EXCLUDED.banned_until, ban_reason = EXCLUDED.ban_reason`,
        [id, ban.nowMs, ban.untilMs, ban.reason],
      );
    },
    async clearBan(id) {
      await r.q.unsafe(`UPDATE ${s}._user_status SET banned_at = NULL, banned_until = NULL, ban_reason = NULL WHERE user_id = $1`, [id]);
    },
    async recordLogin(id, nowMs) {
      await r.q.unsafe(
        `INSERT INTO ${s}._user_status (user_id, last_login_at) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET last_login_at = EXCLUDED.last_login_at`,
        [id, nowMs],
      );
    },
  };
}
