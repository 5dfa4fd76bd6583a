/**
 * The auth table as the services see it: the user row, what a new row is made of, and the public
 * view of SPEC 6. No storage (that is `p.store.users`, src/storage/) and no HTTP errors (the
 * services map failures to them).
 */
import type { ColumnDef, ProjectConfig, TableDef } from "../config/types.ts";
import { readColumnValue } from "../config/column-types.ts";
import { uuidV4, type RandomBytes } from "../crypto/random.ts";
import type { SqlValue, UserRow, UserStatus } from "../storage/users.ts";

export type { SqlValue, UserRow, UserStatus } from "../storage/users.ts";

/** What a new user is made of: the address (as given and canonical), the hash, and custom columns. */
export interface NewUser {
  readonly email: string;
  readonly canonical: string;
  readonly passwordHash: string;
  readonly emailVerified: boolean;
  readonly columns: Readonly<Record<string, SqlValue>>;
}

/** The stored values of a new user row (signup and the admin API insert the same shape). */
export function newUserValues(p: { readonly deps: { readonly random: RandomBytes } }, u: NewUser, nowIso: string): Record<string, SqlValue> {
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

/** The auth table's definition; callers reach this only through requireAuthProject. */
export function authTableOf(p: { readonly id: string; readonly config: ProjectConfig }): TableDef {
  const table = p.config.tables.find((t) => t.name === p.config.authTableName);
  if (!table) throw new Error(`project ${p.id} has no auth table`);
  return table;
}

export interface UserModel {
  readonly table: TableDef;
  /** The public user object of SPEC 6. */
  toPublic(row: UserRow): Record<string, unknown>;
}

// Derived from the frozen project configuration once, not per request (toPublic is on /auth/me).
const models = new WeakMap<ProjectConfig, UserModel>();

/** The auth-table model of a project. */
export function userModelOf(p: { readonly id: string; readonly config: ProjectConfig }): UserModel {
  let model = models.get(p.config);
  if (!model) {
    const table = authTableOf(p);
    const publicColumns: readonly ColumnDef[] = table.columns.filter((c) => !c.hidden);
    model = {
      table,
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
    models.set(p.config, model);
  }
  return model;
}

/** Stored value -> JSON value of SPEC 3 (bool 0/1 -> boolean, json text -> value). */
export function decodeColumn(col: ColumnDef, stored: unknown): unknown {
  return readColumnValue(col.type, stored);
}

/** A ban is in force when set and either open-ended or not yet past its `until`. */
export function isBanActive(status: Pick<UserStatus, "bannedAt" | "bannedUntil">, nowMs: number): boolean {
  return status.bannedAt !== null && (status.bannedUntil === null || status.bannedUntil > nowMs);
}
