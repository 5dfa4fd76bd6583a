/**
 * Which engine the in-process test instances run on. `LATCHKEY_TEST_ENGINE=postgres` makes
 * createTestInstance build every project on PostgreSQL (a database of its own per instance, emptied
 * and handed on when it closes, see instance.ts); unset or `sqlite` keeps the default, a SQLite file
 * per project.
 *
 * Tests that inspect SQLite itself (files, pragmas, the connection's locks) are marked with
 * `sqliteOnly(reason)`: on PostgreSQL they are skipped and the reason is printed once per file.
 *
 * Tests that only read or write rows use `dbOf` (auth.ts), which on PostgreSQL answers through
 * `pgSyncDb` below: the same `query(sql).get/all/run` shape as bun:sqlite, run synchronously on the
 * project's schema, so a row assertion reads the same on both engines. "Synchronously": a worker
 * thread (pg-sync-worker.ts) holds one Bun.sql connection per database and runs each statement
 * while this thread blocks on `Atomics.wait`; errors come back as throws.
 */
import { describe, it, test } from "bun:test";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { SyncAnswer, SyncRequest } from "./pg-sync-worker.ts";

export type TestEngine = "sqlite" | "postgres";

function engineFromEnv(value: string | undefined): TestEngine {
  if (value === undefined || value === "" || value === "sqlite") return "sqlite";
  if (value === "postgres") return "postgres";
  throw new Error(`LATCHKEY_TEST_ENGINE must be "sqlite" or "postgres", not "${value}"`);
}

export const TEST_ENGINE: TestEngine = engineFromEnv(process.env.LATCHKEY_TEST_ENGINE);
export const ON_POSTGRES = TEST_ENGINE === "postgres";

const announced = new Set<string>();

/**
 * `test`/`it`/`describe` for cases that inspect SQLite directly (files, pragmas, locks, the
 * connection): the real ones on SQLite, skipping ones on PostgreSQL (the reason is printed).
 */
export function sqliteOnly(reason: string): { test: typeof test; it: typeof it; describe: typeof describe } {
  if (!ON_POSTGRES) return { test, it, describe };
  if (!announced.has(reason)) {
    announced.add(reason);
    console.warn(`[LATCHKEY_TEST_ENGINE=postgres] skipping SQLite-only cases: ${reason}`);
  }
  return { test: test.skip, it: it.skip, describe: describe.skip };
}

type Param = string | number | bigint | boolean | null | Uint8Array | undefined;

/** A SQL literal for PostgreSQL (strings quoted, bytes as bytea hex). */
function literal(v: Param): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "boolean") return v ? "1" : "0"; // stored as integers, as in SQLite
  if (v instanceof Uint8Array) return `'\\x${Buffer.from(v).toString("hex")}'::bytea`;
  return `'${String(v).replaceAll("'", "''")}'`;
}

/** SQLite's `?` / `?N` placeholders replaced by literals (outside quoted strings). */
function bind(text: string, params: Param[]): string {
  let next = 0;
  let out = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    if (c === "?" && !quoted) {
      const m = /^\d+/.exec(text.slice(i + 1));
      if (m) {
        out += literal(params[Number(m[0]) - 1]);
        i += m[0].length;
      } else out += literal(params[next++]);
      continue;
    }
    out += c;
  }
  // SQLite's implicit row id: PostgreSQL's physical row position keeps insertion order for rows never updated.
  return out.replace(/\browid\b/g, "ctid");
}

let worker: { port: MessagePort; flag: Int32Array } | null = null;
let nextId = 0;

/** The reader thread (started once, never keeping the process alive). */
function readerThread(): { port: MessagePort; flag: Int32Array } {
  if (worker) return worker;
  const shared = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(new URL("./pg-sync-worker.ts", import.meta.url), { workerData: { port: port2, flag: shared }, transferList: [port2] });
  w.unref();
  port1.unref();
  worker = { port: port1, flag: new Int32Array(shared) };
  return worker;
}

/** Posts one request to the reader thread and blocks this thread until its answer arrives. */
function ask(req: Omit<SyncRequest, "id">): Extract<SyncAnswer, { ok: true }> {
  const { port, flag } = readerThread();
  const id = ++nextId;
  Atomics.store(flag, 0, 0);
  port.postMessage({ ...req, id } satisfies SyncRequest);
  const deadline = Date.now() + 20_000;
  for (;;) {
    // Answers to earlier requests that timed out are dropped here.
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const a = m.message as SyncAnswer;
      if (a.id !== id) continue;
      if (!a.ok) throw new Error(`PostgreSQL: ${a.message}\n  in: ${req.text}`);
      return a;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`PostgreSQL row reader: no answer within 20 s\n  in: ${req.text}`);
    // Woken by the worker's notify (or after 50 ms, whichever first): reset the flag before draining again.
    Atomics.wait(flag, 0, 0, Math.min(left, 50));
    Atomics.store(flag, 0, 0);
  }
}

/** The rows of one statement as JSON objects (numbers stay numbers: every integer column is BIGINT). */
function runSync(url: string, schema: string, statement: string, wantRows: boolean): { rows: Record<string, unknown>[]; changes: number } {
  const trimmed = statement.trim().replace(/;\s*$/, "");
  const returnsRows = wantRows && /^(select|with|values)\b/i.test(trimmed);
  if (!returnsRows) return { rows: [], changes: ask({ url, schema, text: trimmed, mode: "count" }).changes };
  const rows = JSON.parse(ask({ url, schema, text: trimmed, mode: "rows" }).json ?? "[]") as Record<string, unknown>[];
  // bytea arrives as "\\x<hex>" text: hand it back as bytes, as bun:sqlite gives BLOBs.
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      if (typeof v === "string" && /^\\x(?:[0-9a-f]{2})*$/.test(v)) row[k] = new Uint8Array(Buffer.from(v.slice(2), "hex"));
    }
  }
  return { rows, changes: 0 };
}

export interface SyncStatement {
  get(...params: Param[]): Record<string, unknown> | null;
  all(...params: Param[]): Record<string, unknown>[];
  run(...params: Param[]): { changes: number };
}

/** The part of bun:sqlite's Database that row assertions use, answered on a project's schema by the reader thread. */
export interface SyncRowReader {
  query(text: string): SyncStatement;
  prepare(text: string): SyncStatement;
  run(text: string, ...params: Param[]): { changes: number };
  exec(text: string): void;
}

export function pgSyncDb(databaseUrl: string, schema: string): SyncRowReader {
  const u = new URL(databaseUrl);
  u.search = ""; // the reader thread opens one connection of its own, whatever pool size the URL asks for
  const url = u.href;
  const statement = (text: string): SyncStatement => ({
    get: (...p) => runSync(url, schema, bind(text, p), true).rows[0] ?? null,
    all: (...p) => runSync(url, schema, bind(text, p), true).rows,
    run: (...p) => ({ changes: runSync(url, schema, bind(text, p), false).changes }),
  });
  return {
    query: statement,
    prepare: statement,
    run: (text, ...p) => statement(text).run(...p),
    exec: (text) => void ask({ url, schema, text, mode: "script" }),
  };
}
