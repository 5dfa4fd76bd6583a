/**
 * Consistent copies of project databases (SPEC §14). Every copy is made by SQLite itself with
 * `VACUUM INTO`, which reads one snapshot inside a read transaction: it holds every write
 * committed before it began, never a torn page, and it never blocks the writers of a live server.
 * A byte copy of a live WAL database could miss committed pages that are still in the WAL.
 */
import { Database } from "bun:sqlite";
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DbOpenError, openProjectDb } from "./open.ts";

/** A backup or restore that was refused; the message is safe to print (no SQL, no secrets). */
export class BackupError extends Error {
  override readonly name = "BackupError";
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a consistent copy of `db` to `outPath` (which must not exist): `VACUUM INTO` a temporary
 * file beside it, fsync, then rename, so a crash never leaves a half-written file under that name.
 * Must not run inside a transaction (SQLite refuses VACUUM there).
 */
export function writeBackup(db: Database, outPath: string): void {
  if (existsSync(outPath)) throw new BackupError(`${outPath} already exists; choose another file name`);
  const tmp = join(dirname(outPath), `.${basename(outPath)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  try {
    db.run("VACUUM INTO ?", [tmp]);
    fsyncPath(tmp);
    renameSync(tmp, outPath);
    fsyncPath(dirname(outPath));
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof BackupError) throw e;
    throw new BackupError(`could not write ${outPath}: ${(e as Error).message}`);
  }
}

/** Where the automatic backup before a destructive plan goes: `{data}/{id}.before-{plan id}.db`. */
export function beforePlanBackupPath(dataDir: string, projectId: string, planId: string): string {
  return join(dataDir, `${projectId}.before-${planId}.db`);
}

/**
 * The automatic backup taken before a destructive schema plan is applied (SPEC §14). A backup of
 * the same plan that already exists is kept (the plan was backed up and then failed or was
 * retried): the first copy is the one taken before any attempt.
 */
export function backupBeforeDestructivePlan(db: Database, opts: { dataDir: string; projectId: string; planId: string }): string {
  const path = beforePlanBackupPath(opts.dataDir, opts.projectId, opts.planId);
  if (!existsSync(path)) writeBackup(db, path);
  return path;
}

/** `latchkey backup`: a consistent copy of a project database, live or not. */
export function backupProject(opts: { dataDir: string; projectId: string; outPath: string; nowIso: string }): void {
  const path = join(opts.dataDir, `${opts.projectId}.db`);
  if (!existsSync(path)) throw new BackupError(`no database for project ${opts.projectId} at ${path}`);
  let db: Database;
  try {
    db = openProjectDb(path, { readonly: true, projectId: opts.projectId, nowIso: opts.nowIso });
  } catch (e) {
    throw new BackupError((e as Error).message);
  }
  try {
    writeBackup(db, opts.outPath);
  } finally {
    db.close();
  }
}

/**
 * `latchkey restore`: puts a backup back as `{data}/{id}.db` while the server is stopped. The file
 * must be a sound Latchkey database of this project and of a schema version this build knows.
 * The database it replaces is kept beside it as `{id}.pre-restore-{time}.db`. Returns that path
 * (null when there was none).
 */
export function restoreProject(opts: { dataDir: string; projectId: string; fromPath: string; nowIso: string }): string | null {
  const target = join(opts.dataDir, `${opts.projectId}.db`);
  if (!existsSync(opts.fromPath)) throw new BackupError(`${opts.fromPath} does not exist`);
  let source: Database;
  try {
    source = openProjectDb(opts.fromPath, { readonly: true, projectId: opts.projectId, nowIso: opts.nowIso });
  } catch (e) {
    if (e instanceof DbOpenError) throw new BackupError(`refusing to restore: ${e.message}`);
    throw e;
  }
  try {
    const rows = source.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    if (rows.length !== 1 || rows[0].integrity_check !== "ok") {
      throw new BackupError(`refusing to restore: ${opts.fromPath} fails PRAGMA integrity_check (${rows[0]?.integrity_check ?? "no answer"})`);
    }
    const tmp = join(opts.dataDir, `.${opts.projectId}.restore.${process.pid}.tmp`);
    rmSync(tmp, { force: true });
    source.run("VACUUM INTO ?", [tmp]);
    fsyncPath(tmp);
    const current = existsSync(target) ? lockStoppedDatabase(target, tmp) : null;
    let keptAs: string | null = null;
    try {
      if (current) {
        keptAs = join(opts.dataDir, `${opts.projectId}.pre-restore-${opts.nowIso.replace(/[:.]/g, "-")}.db`);
        renameSync(target, keptAs);
      }
      renameSync(tmp, target);
      fsyncPath(opts.dataDir);
    } finally {
      current?.close();
    }
    return keptAs;
  } finally {
    source.close();
  }
}

/**
 * Proves no server has the database open, and keeps others out until the swap is done: leaving
 * WAL mode needs the only connection (SQLite answers "database is locked" otherwise), and the
 * EXCLUSIVE transaction holds the file while it is renamed away.
 */
function lockStoppedDatabase(target: string, tmp: string): Database {
  let db: Database | null = null;
  try {
    db = new Database(target, { readwrite: true });
    db.run("PRAGMA busy_timeout = 0");
    const mode = (db.query("PRAGMA journal_mode = DELETE").get() as { journal_mode: string }).journal_mode;
    if (mode.toLowerCase() !== "delete") throw new Error("in use");
    db.run("BEGIN EXCLUSIVE");
    return db;
  } catch {
    db?.close();
    rmSync(tmp, { force: true });
    throw new BackupError(`${target} is in use: stop the server before restoring (a backup can be taken while it runs)`);
  }
}
