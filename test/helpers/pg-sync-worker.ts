/**
 * The worker thread behind `pgSyncDb` (engine.ts): it holds one Bun.sql connection per database and
 * runs the statements the test's main thread posts, while the main thread blocks on `Atomics.wait`.
 * Each answer is posted on the request port first, then the shared flag is set and notified, so the
 * main thread finds it with `receiveMessageOnPort` as soon as it wakes.
 */
import { SQL } from "bun";
import { workerData, type MessagePort } from "node:worker_threads";

export interface SyncRequest {
  id: number;
  url: string;
  schema: string;
  text: string;
  /** "rows": a query whose rows come back as JSON; "count": one statement, its row count; "script": several statements. */
  mode: "rows" | "count" | "script";
}

export type SyncAnswer = { id: number; ok: true; json: string | null; changes: number } | { id: number; ok: false; message: string };

const { port, flag: shared } = workerData as { port: MessagePort; flag: SharedArrayBuffer };
const flag = new Int32Array(shared);

interface Connection {
  sql: SQL;
  schema: string | null;
}
const connections = new Map<string, Connection>();

async function connection(url: string): Promise<Connection> {
  let c = connections.get(url);
  if (!c) {
    // One connection per database, closed when idle (the database may be dropped later; DROP ... WITH (FORCE) does not wait for it).
    c = { sql: new SQL(url, { max: 1, idleTimeout: 30, connectionTimeout: 5 }), schema: null };
    connections.set(url, c);
    // A row read that waits on a lock a test holds on the main thread must fail, not hang.
    await c.sql.unsafe("SET lock_timeout = 3000; SET statement_timeout = 8000");
  }
  return c;
}

async function answer(req: SyncRequest): Promise<SyncAnswer> {
  try {
    const c = await connection(req.url);
    if (c.schema !== req.schema) {
      await c.sql.unsafe(`SET search_path TO "${req.schema.replaceAll('"', '""')}"`);
      c.schema = req.schema;
    }
    if (req.mode === "rows") {
      const rows = (await c.sql.unsafe(`SELECT coalesce(json_agg(t), '[]'::json)::text AS j FROM (${req.text}) t`)) as { j: string }[];
      return { id: req.id, ok: true, json: rows[0]?.j ?? "[]", changes: 0 };
    }
    if (req.mode === "count") {
      const r = (await c.sql.unsafe(req.text)) as { count?: number | null };
      return { id: req.id, ok: true, json: null, changes: Number(r.count ?? 0) };
    }
    await c.sql.unsafe(req.text);
    return { id: req.id, ok: true, json: null, changes: 0 };
  } catch (e) {
    // The connection may be broken (or its session settings lost): the next request opens a fresh one.
    const c = connections.get(req.url);
    connections.delete(req.url);
    void c?.sql.close({ timeout: 1 }).catch(() => {});
    return { id: req.id, ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

port.on("message", async (req: SyncRequest) => {
  const a = await answer(req);
  port.postMessage(a);
  Atomics.store(flag, 0, req.id);
  Atomics.notify(flag, 0);
});
