import type { Statement } from "bun:sqlite";
import { readColumnValue } from "../../config/column-types.ts";
import type { ColumnDef, TableDef } from "../../config/types.ts";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { DrizzleQueryError, eq, sql } from "drizzle-orm";
import { quoteIdent } from "../../storage/schema/sql-text.ts";
import { uuidV4 } from "../../crypto/random.ts";

/** One row of the auth table, as read from the database (custom columns raw, as stored). */
export interface UserRow {
  id: string;
  email: string;
  email_verified: boolean;
  password_hash: string;
  password_version: number;
  created_at: string;
  updated_at: string;
  [col: string]: unknown;
}

/** A value bun:sqlite can bind. */
export type SqlValue = string | number | null;

export interface UserRepo {
  readonly table: TableDef;
  findByCanonicalEmail(canonical: string): UserRow | null;
  findById(id: string): UserRow | null;
  /** Inserts a user; `values` are column -> stored value. Throws the SQLite constraint error as is. */
  insert(values: Readonly<Record<string, SqlValue>>): UserRow;
  /** Updates custom columns (and updated_at). Returns null when the user no longer exists. */
  update(id: string, values: Readonly<Record<string, SqlValue>>, nowIso: string): UserRow | null;
  /** Sets a new hash and bumps `_password_version`; returns the new version (0 when no such user). */
  setPassword(id: string, hash: string, nowIso: string): number;
  /**
   * Like setPassword, but only while the version is still `expectedVersion` (a concurrent change
   * wins once); returns the new version or null.
   */
  setPasswordIfVersion(id: string, hash: string, expectedVersion: number, nowIso: string): number | null;
  /** Replaces a hash by an upgraded hash of the same password, only if it is still `oldHash`. */
  replaceHash(id: string, oldHash: string, newHash: string): boolean;
  markEmailVerified(id: string, nowIso: string): void;
  /** True when `id` exists in `table` (a ref target). */
  rowExists(table: string, id: string): boolean;
  /** Decodes a raw row as read by a statement of another module (e.g. the session JOIN). */
  fromDb(raw: Record<string, unknown>): UserRow;
  /** The public user object of SPEC 6. */
  toPublic(row: UserRow): Record<string, unknown>;
}

/** What a new user is made of: the address (as given and canonical), the hash, and custom columns. */
export interface NewUser {
  readonly email: string;
  readonly canonical: string;
  readonly passwordHash: string;
  readonly emailVerified: boolean;
  readonly columns: Readonly<Record<string, SqlValue>>;
}

/** The stored values of a new user row (signup and the admin API insert the same shape). */
export function newUserValues(p: Pick<ProjectRuntime, "deps">, u: NewUser, nowIso: string): Record<string, SqlValue> {
  return {
    ...u.columns,
    id: uuidV4(p.deps.random),
    created_at: nowIso,
    updated_at: nowIso,
    email: u.email,
    _email_canonical: u.canonical,
    email_verified: u.emailVerified ? 1 : 0,
    password_hash: u.passwordHash,
  };
}

const repos = new WeakMap<ProjectRuntime, UserRepo>();

/** The auth table's definition; callers reach this only through requireAuthProject. */
export function authTableOf(p: ProjectRuntime): TableDef {
  const table = p.config.tables.find((t) => t.name === p.config.authTableName);
  if (!table) throw new Error(`project ${p.id} has no auth table`);
  return table;
}

/** The user repository of a project, with its prepared statements (cached per runtime). */
export function usersOf(p: ProjectRuntime): UserRepo {
  let repo = repos.get(p);
  if (!repo) {
    repo = createUserRepo(p);
    repos.set(p, repo);
  }
  return repo;
}

function createUserRepo(p: ProjectRuntime): UserRepo {
  const table = authTableOf(p);
  const t = quoteIdent(table.name);
  const db = p.db;
  // Drizzle's model of the auth table (stored-value mode: 0/1 and JSON text, as fromDb expects).
  const users = p.tables[table.name];
  if (!users) throw new Error(`project ${p.id}: no table model for ${table.name}`);
  const byCanonical = p.orm.select().from(users).where(eq(users._email_canonical, sql.placeholder("canonical"))).prepare();
  const byId = p.orm.select().from(users).where(eq(users.id, sql.placeholder("id"))).prepare();
  const setPw: Statement = db.prepare(
    `UPDATE ${t} SET "password_hash" = ?, "_password_version" = "_password_version" + 1, "updated_at" = ? WHERE "id" = ? RETURNING "_password_version" AS v`,
  );
  const setPwIf: Statement = db.prepare(
    `UPDATE ${t} SET "password_hash" = ?, "_password_version" = "_password_version" + 1, "updated_at" = ? WHERE "id" = ? AND "_password_version" = ? RETURNING "_password_version" AS v`,
  );
  const rehash: Statement = db.prepare(`UPDATE ${t} SET "password_hash" = ? WHERE "id" = ? AND "password_hash" = ?`);
  const verify: Statement = db.prepare(`UPDATE ${t} SET "email_verified" = 1, "updated_at" = ? WHERE "id" = ? AND "email_verified" = 0`);
  const publicColumns: readonly ColumnDef[] = table.columns.filter((c) => !c.hidden);
  const columnByName = new Map(table.columns.map((c) => [c.name, c]));

  const fromDb = (raw: Record<string, unknown>): UserRow => {
    const row: UserRow = {
      ...raw,
      id: raw.id as string,
      email: raw.email as string,
      email_verified: raw.email_verified === 1,
      password_hash: raw.password_hash as string,
      password_version: raw._password_version as number,
      created_at: raw.created_at as string,
      updated_at: raw.updated_at as string,
    };
    delete row._password_version;
    delete row._email_canonical;
    return row;
  };
  const one = (raw: unknown): UserRow | null => (raw ? fromDb(raw as Record<string, unknown>) : null);

  return {
    table,
    findByCanonicalEmail: (canonical) => one(unwrapDbErrors(() => byCanonical.get({ canonical }))),
    findById: (id) => one(unwrapDbErrors(() => byId.get({ id }))),
    insert(values) {
      const row = unwrapDbErrors(() => p.orm.insert(users).values(values).returning().get());
      return fromDb(row as Record<string, unknown>);
    },
    update(id, values, nowIso) {
      const set: Record<string, SqlValue> = { updated_at: nowIso };
      for (const [name, value] of Object.entries(values)) if (columnByName.has(name)) set[name] = value;
      return one(unwrapDbErrors(() => p.orm.update(users).set(set).where(eq(users.id, id)).returning().get()));
    },
    setPassword(id, hash, nowIso) {
      const r = setPw.get(hash, nowIso, id) as { v: number } | null;
      return r ? r.v : 0;
    },
    setPasswordIfVersion(id, hash, expectedVersion, nowIso) {
      const r = setPwIf.get(hash, nowIso, id, expectedVersion) as { v: number } | null;
      return r ? r.v : null;
    },
    replaceHash(id, oldHash, newHash) {
      return rehash.run(newHash, id, oldHash).changes === 1;
    },
    markEmailVerified(id, nowIso) {
      verify.run(nowIso, id);
    },
    rowExists(target, id) {
      // Through drizzle's model of the declared tables (built at boot): the target table is only
      // known from the project file, and the query builder quotes and binds it for us.
      const ref = p.tables[target];
      if (!ref) return false;
      return p.orm.select({ x: sql`1` }).from(ref).where(eq(ref.id, id)).limit(1).get() !== undefined;
    },
    fromDb,
    toPublic(row) {
      const out: Record<string, unknown> = {
        id: row.id,
        email: row.email,
        email_verified: row.email_verified,
        created_at: row.created_at,
        updated_at: row.updated_at,
      };
      for (const col of publicColumns) out[col.name] = decodeColumn(col, row[col.name]);
      return out;
    },
  };
}

/** Stored value -> JSON value of SPEC 3 (bool 0/1 -> boolean, json text -> value). */
export function decodeColumn(col: ColumnDef, stored: unknown): unknown {
  return readColumnValue(col.type, stored);
}

/**
 * Drizzle wraps driver errors in DrizzleQueryError (whose message holds the SQL). Callers map
 * SQLite's own error (constraint codes, busy) to public errors, so hand them that one.
 */
function unwrapDbErrors<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    throw e instanceof DrizzleQueryError && e.cause !== undefined ? e.cause : e;
  }
}
