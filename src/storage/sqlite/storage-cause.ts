/**
 * Names the real cause of a storage failure (a read-only file system, missing permissions, a
 * full disk) instead of letting SQLite's "unable to open database file" or "disk I/O error" pass
 * for corruption. These causes are transient: the project is loaded again once they are fixed.
 */
import { accessSync, constants, existsSync, statfsSync } from "node:fs";
import { dirname } from "node:path";

/** SQLite result codes that say "the storage cannot be used right now", not "the file is bad". */
const STORAGE_CODES = /^SQLITE_(CANTOPEN|IOERR|FULL|READONLY|PERM|BUSY|LOCKED|NOMEM|AUTH)/;
/** Less free space than this is reported as a full disk. */
const NEARLY_FULL_BYTES = 64 * 1024;

export function sqliteCode(e: unknown): string | null {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : null;
}

/** True for an SQLite error about the storage (busy, full, read-only, I/O), not about the data. */
export function isStorageError(e: unknown): boolean {
  const code = sqliteCode(e);
  return code !== null && STORAGE_CODES.test(code);
}

/**
 * The cause of a storage failure on `path`, as `ENOSPC: ...` / `EROFS: ...` / `EACCES: ...`,
 * or null when the file system shows none of them.
 */
export function diagnoseStorage(path: string, e?: unknown): string | null {
  const dir = dirname(path);
  if (sqliteCode(e)?.startsWith("SQLITE_FULL")) return `ENOSPC: no space left on the device holding ${dir}`;
  const denied = (target: string, mode: number): string | null => {
    try {
      accessSync(target, mode);
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EROFS") return `EROFS: ${dir} is on a read-only file system`;
      if (code === "EACCES" || code === "EPERM") return `EACCES: no permission to ${target === dir ? "write in" : "read and write"} ${target}`;
      return null;
    }
  };
  const cause = denied(dir, constants.W_OK | constants.X_OK) ?? (existsSync(path) ? denied(path, constants.R_OK | constants.W_OK) : null);
  if (cause !== null) return cause;
  try {
    const fs = statfsSync(dir);
    if (fs.bavail * fs.bsize < NEARLY_FULL_BYTES) return `ENOSPC: no space left on the device holding ${dir}`;
  } catch {
    // no statfs here: nothing more to say
  }
  if (sqliteCode(e)?.startsWith("SQLITE_READONLY")) return `EROFS: ${path} can only be opened read-only`;
  return null;
}
