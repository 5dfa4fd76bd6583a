/** `latchkey backup` and `latchkey restore` (docs/operations.md). */
import { BackupError, backupProject, restoreProject } from "../storage/sqlite/backup.ts";
import { EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME } from "./exit-codes.ts";

export function runBackup(cmd: { projectId: string; outPath: string; dataDir: string }): number {
  return runBackupCommand(() => backupProject({ dataDir: cmd.dataDir, projectId: cmd.projectId, outPath: cmd.outPath, nowIso: new Date().toISOString() }), `project ${cmd.projectId} backed up to ${cmd.outPath}`);
}

export function runRestore(cmd: { projectId: string; fromPath: string; dataDir: string }): number {
  return runBackupCommand(() => {
    const kept = restoreProject({ dataDir: cmd.dataDir, projectId: cmd.projectId, fromPath: cmd.fromPath, nowIso: new Date().toISOString() });
    return kept === null ? "" : ` (the database it replaced is kept as ${kept})`;
  }, `project ${cmd.projectId} restored from ${cmd.fromPath}`);
}

function runBackupCommand(fn: () => string | void, done: string): number {
  try {
    const extra = fn();
    process.stdout.write(`${done}${extra ?? ""}\n`);
    return EXIT_OK;
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return e instanceof BackupError ? EXIT_CONFIG : EXIT_RUNTIME;
  }
}
