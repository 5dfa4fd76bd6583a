/**
 * The data directory as the process owns it: created private (0700), files private whatever the
 * umask, and held by one server at a time through an exclusive lock that dies with the process.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "./libc.ts";

export const LOCK_FILE = "latchkey.lock";

/** Another server holds the data directory (exit 1, naming its PID). */
export class DataDirBusyError extends Error {
  override readonly name = "DataDirBusyError";
}

/**
 * Every file the server creates from here on is private (0600, directories 0700), whatever the
 * umask it was started with: databases and their -wal/-shm files, mail files, the lock file.
 */
export function makeFilesPrivate(): void {
  process.umask(0o077);
}

/**
 * Creates the data directory (0700) when it is missing. Returns a warning when an existing one
 * can be read or entered by other users (its files are private anyway, but their names are not).
 */
export function prepareDataDir(dir: string): { created: boolean; warning: string | null } {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return { created: true, warning: null };
  }
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return {
      created: false,
      warning: `data directory ${dir} is accessible by other users (mode ${mode.toString(8).padStart(4, "0")}); run \`chmod 700 ${dir}\``,
    };
  }
  return { created: false, warning: null };
}

/**
 * Takes the exclusive lock of the data directory (`latchkey.lock`, flock) and writes our PID
 * into it. The kernel releases the lock when the process ends in any way, kill -9 included, so
 * a stale lock file never blocks a restart. The descriptor stays open for the life of the process.
 * Returns false when the lock cannot be taken on this system (no libc).
 */
export function lockDataDir(dir: string): boolean {
  const path = join(dir, LOCK_FILE);
  const fd = openLockFile(path);
  if (fd === null) return false;
  const got = tryLockExclusive(fd.fd);
  if (got === "unavailable") {
    closeSync(fd.fd);
    return false;
  }
  if (got === "busy") {
    closeSync(fd.fd);
    throw new DataDirBusyError(
      `data directory ${dir} is in use by another latchkey server (${holderOf(path)}); stop it first or use another --data`,
    );
  }
  if (fd.writable) {
    ftruncateSync(fd.fd, 0);
    writeSync(fd.fd, `${process.pid}\n`, 0);
  }
  return true;
}

/**
 * Opens the lock file for writing, or read-only when the directory cannot be written (a
 * read-only mount: flock works on a read-only descriptor too, and the projects then report the
 * real cause). Null when it neither exists nor can be created.
 */
function openLockFile(path: string): { fd: number; writable: boolean } | null {
  try {
    return { fd: openSync(path, "a+", 0o600), writable: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EROFS" && code !== "EACCES" && code !== "EPERM" && code !== "ENOSPC") throw e;
    if (!existsSync(path)) return null;
    return { fd: openSync(path, "r"), writable: false };
  }
}

function holderOf(path: string): string {
  // The holder writes its PID right after taking the lock; a just-started one may not have yet.
  const pid = /^\d+/.exec(readFileSync(path, "utf8"))?.[0];
  return pid === undefined ? "PID unknown" : `PID ${pid}`;
}
