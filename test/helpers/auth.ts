/** Helpers for the end-user auth flows (test/auth/). */
import { createHmac } from "node:crypto";
import { expect } from "bun:test";
import type { Database } from "bun:sqlite";
import type { ProjectRuntime } from "../../src/projects/runtime.ts";
import { sqliteDatabaseOf } from "../../src/storage/sqlite/store.ts";
import { projectSchemaName } from "../../src/storage/postgres/url.ts";
import { pgSyncDb } from "./engine.ts";
import type { ProjectSpec, TestInstance, TestResponse } from "./instance.ts";

export const PASSWORD = "correct horse battery";

/** A project with an auth table `users` and a few custom columns; `auth` is merged in. */
export function authSpec(opts: { id?: string; auth?: Record<string, unknown>; columns?: Record<string, unknown>; verifyEmail?: boolean } = {}): ProjectSpec {
  return {
    id: opts.id ?? "demo",
    allowed_redirect_origins: ["https://myapp.com"],
    tables: {
      users: {
        auth_table: true,
        ...(opts.verifyEmail ? { verify_email: true } : {}),
        columns: opts.columns ?? { display_name: "string max_length 80" },
      },
    },
    ...(opts.auth ? { auth: opts.auth } : {}),
  };
}

export function runtimeOf(inst: TestInstance, id = "demo"): ProjectRuntime {
  const p = inst.booted.projects.get(id);
  if (!p) throw new Error(`project ${id} is not loaded: ${JSON.stringify(inst.booted.failures)}`);
  return p;
}

export interface Session {
  token: string;
  refresh_token: string;
  user: Record<string, unknown> & { id: string };
}

/** Signs a user up and returns the 201 body's data (fails the test on anything else). */
export async function signUp(
  inst: TestInstance,
  email: string,
  opts: { password?: string; fields?: Record<string, unknown>; project?: string; ip?: string } = {},
): Promise<Session> {
  const r = await inst.req("POST", `/p/${opts.project ?? "demo"}/auth/signup`, {
    body: { email, password: opts.password ?? PASSWORD, ...opts.fields },
    ip: opts.ip,
  });
  if (r.status !== 201) throw new Error(`signup answered ${r.status}: ${r.text}`);
  return r.body.data as Session;
}

export async function logIn(
  inst: TestInstance,
  email: string,
  opts: { password?: string; project?: string } = {},
): Promise<Session> {
  const r = await inst.req("POST", `/p/${opts.project ?? "demo"}/auth/login`, { body: { email, password: opts.password ?? PASSWORD } });
  if (r.status !== 200) throw new Error(`login answered ${r.status}: ${r.text}`);
  return r.body.data as Session;
}

/** Asserts status and error code (and `field` when given) of an error answer. */
export function expectError(r: TestResponse, status: number, code: string, field?: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  if (field !== undefined) expect(r.body.error.field).toBe(field);
}

/** Rows of the mail outbox, optionally of one template. */
export function mailCount(inst: TestInstance, template?: string, project = "demo"): number {
  const db = dbOf(inst, project);
  const row = (template
    ? db.query("SELECT count(*) AS n FROM _outbox WHERE template = ?").get(template)
    : db.query("SELECT count(*) AS n FROM _outbox").get()) as { n: number };
  return row.n;
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/** A JWT with any header and payload, signed with HMAC `alg` (sha256/sha512) under `key`. */
export function forgeJwt(header: unknown, payload: unknown, key: Uint8Array, alg: "sha256" | "sha512" = "sha256"): string {
  const body = `${b64url(header)}.${b64url(payload)}`;
  return `${body}.${createHmac(alg, key).update(body).digest("base64url")}`;
}

export function decodeJwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** Count of the rate-limit counter `name:key`, or 0. */
export function counterOf(inst: TestInstance, key: string, project = "demo"): number {
  const r = dbOf(inst, project).query("SELECT count FROM _rate_limits WHERE key = ?").get(key) as { count: number } | null;
  return r?.count ?? 0;
}

/**
 * The SQLite connection behind a project's store, for assertions on stored rows (services reach
 * the database only through `p.store`). On the PostgreSQL pass (engine.ts) the same
 * `query(sql).get/all/run` calls are answered by psql on the project's schema; anything beyond
 * row reads and writes (pragmas, files, locks) belongs in a `sqliteOnly` test.
 */
export function dbOf(inst: TestInstance, project = "demo"): Database {
  if (inst.database) return pgSyncDb(inst.database.url, projectSchemaName(project)) as unknown as Database;
  return sqliteDatabaseOf(runtimeOf(inst, project).store);
}
