/** `latchkey keys rotate --project ID (--admin | --public | --both)`: new project keys, printed once. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultRandomBytes } from "../crypto/random.ts";
import { openProjectDb } from "../storage/sqlite/open.ts";
import { createSettingsRepo } from "../storage/sqlite/settings.ts";
import { createProjectKeys } from "../storage/sqlite/keys.ts";
import { EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME } from "./exit-codes.ts";
import type { ProjectConfig } from "../config/types.ts";
import { deriveKey } from "../crypto/digest.ts";
import { loadServerKey } from "../server-key.ts";
import { connectPostgres } from "../storage/postgres/connect.ts";
import { createPgProjectStore } from "../storage/postgres/project-store.ts";
import { projectSchemaName, type DatabaseChoice } from "../storage/postgres/url.ts";

export function runKeysRotate(projectId: string, which: "admin" | "public" | "both", dataDir: string): number {
  const path = join(dataDir, `${projectId}.db`);
  if (!existsSync(path)) {
    process.stderr.write(`latchkey: no database for project ${projectId} at ${path}\n`);
    return EXIT_CONFIG;
  }
  let db;
  try {
    db = openProjectDb(path, { projectId, nowIso: new Date().toISOString() });
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  try {
    const keys = createProjectKeys(db, createSettingsRepo(db), defaultRandomBytes);
    const kinds = which === "both" ? (["admin", "public"] as const) : ([which] as const);
    const out = keys.rotate(kinds, new Date().toISOString());
    if (out.admin) process.stdout.write(`admin_key=${out.admin}\n`);
    if (out.public) process.stdout.write(`public_key=${out.public}\n`);
    return EXIT_OK;
  } finally {
    db.close();
  }
}

/**
 * `keys rotate --database postgres://...`: the same rotation on the project's schema, in one
 * transaction under the project's key lock (src/storage/postgres/keys.ts). Every replica refuses
 * the old key within 1 s (each looks at the settings version every 250 ms). Needs
 * LATCHKEY_SERVER_KEY (the server key of the replicas).
 */
export async function runKeysRotatePostgres(
  projectId: string,
  which: "admin" | "public" | "both",
  database: Extract<DatabaseChoice, { engine: "postgres" }>,
  env: Record<string, string | undefined>,
): Promise<number> {
  if (!env.LATCHKEY_SERVER_KEY) {
    process.stderr.write("latchkey: keys rotate --database postgres://... needs LATCHKEY_SERVER_KEY (base64, 32 bytes), the same as the replicas'\n");
    return EXIT_CONFIG;
  }
  let serverKey: Uint8Array;
  let schema: string;
  try {
    serverKey = loadServerKey({ dataDir: "", envValue: env.LATCHKEY_SERVER_KEY, random: defaultRandomBytes, create: false });
    schema = projectSchemaName(projectId);
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return EXIT_CONFIG;
  }
  const sql = connectPostgres(database, { connectionTimeoutS: 10 });
  try {
    const found = (await sql`SELECT 1 AS one FROM pg_tables WHERE schemaname = ${schema} AND tablename = '_settings'`) as unknown[];
    if (found.length === 0) {
      process.stderr.write(`latchkey: no project ${projectId} in ${database.display} (schema ${schema} is missing; serve creates it)\n`);
      return EXIT_CONFIG;
    }
    // The keys group reads no more of the configuration than the project id.
    const config = { id: projectId, tables: [] } as unknown as ProjectConfig;
    const store = createPgProjectStore({ sql, config, now: Date.now, random: defaultRandomBytes, sealKey: deriveKey(serverKey, "project-key-seal") });
    const kinds = which === "both" ? (["admin", "public"] as const) : ([which] as const);
    const out = await store.keys.rotate(kinds, new Date().toISOString());
    if (out.admin) process.stdout.write(`admin_key=${out.admin}\n`);
    if (out.public) process.stdout.write(`public_key=${out.public}\n`);
    return EXIT_OK;
  } catch (e) {
    process.stderr.write(`latchkey: ${database.display}: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  } finally {
    await sql.close({ timeout: 5 }).catch(() => undefined);
  }
}
