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

const connections = new Map<string, SQL>();

function connection(url: string): SQL {
  let c = connections.get(url);
  if (!c) {
    // One connection per database, closed when idle (the database may be dropped later; DROP ... WITH (FORCE) does not wait for it).
    c = new SQL(url, { max: 1, idleTimeout: 30, connectionTimeout: 5 });
    connections.set(url, c);
  }
  return c;
}

/**
 * The session settings go with every request (one round trip, several statements): the client
 * reconnects by itself after an idle close, and a fresh session would have lost them. The lock
 * timeout makes a read that waits on a lock a test holds on the main thread fail, not hang.
 */
function withSettings(schema: string, text: string): string {
  return `SET lock_timeout = 3000; SET statement_timeout = 8000; SET search_path TO "${schema.replaceAll('"', '""')}"; ${text}`;
}

/** The result of the request's own statement: the last of the batch (a single statement's result is not wrapped). */
function last(results: unknown): { count?: number | null } & unknown[] {
  const all = results as unknown[];
  return (Array.isArray(all[0]) || all.length === 0 ? all.at(-1) : all) as { count?: number | null } & unknown[];
}

async function answer(req: SyncRequest): Promise<SyncAnswer> {
  try {
    const sql = connection(req.url);
    if (req.mode === "rows") {
      const rows = last(await sql.unsafe(withSettings(req.schema, `SELECT coalesce(json_agg(t), '[]'::json)::text AS j FROM (${req.text}) t`))) as unknown as { j: string }[];
      return { id: req.id, ok: true, json: rows[0]?.j ?? "[]", changes: 0 };
    }
    if (req.mode === "count") {
      const r = last(await sql.unsafe(withSettings(req.schema, req.text)));
      return { id: req.id, ok: true, json: null, changes: Number(r.count ?? 0) };
    }
    await sql.unsafe(withSettings(req.schema, req.text));
    return { id: req.id, ok: true, json: null, changes: 0 };
  } catch (e) {
    return { id: req.id, ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

port.on("message", async (req: SyncRequest) => {
  const a = await answer(req);
  port.postMessage(a);
  Atomics.store(flag, 0, req.id);
  Atomics.notify(flag, 0);
});
