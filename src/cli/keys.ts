/** `latchkey keys rotate --project ID (--admin | --public | --both)`: new project keys, printed once. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultRandomBytes } from "../crypto/random.ts";
import { openProjectDb } from "../storage/sqlite/open.ts";
import { createSettingsRepo } from "../storage/sqlite/settings.ts";
import { createProjectKeys } from "../storage/sqlite/keys.ts";
import { EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME } from "./exit-codes.ts";

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
