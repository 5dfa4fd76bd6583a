/**
 * Open files: each project holds about three (database, -wal, -shm), and every connection one
 * more. Past the process limit, projects fail to open and the port stops accepting even
 * /healthz, so the soft limit is raised to the hard one at start, and a fleet that cannot fit
 * refuses to boot with a message instead of failing one project at a time.
 */
import { raiseFileLimit, type FileLimit } from "./libc.ts";

export const FILES_PER_PROJECT = 3;
/** stdio, the listening socket, the lock file, plugins, and room for client connections. */
export const FILES_RESERVED = 100;

export function filesNeeded(projectCount: number): number {
  return projectCount * FILES_PER_PROJECT + FILES_RESERVED;
}

/** Raises the limit; returns an error message when `projectCount` projects cannot fit in it. */
export function ensureFileLimit(projectCount: number): { limit: FileLimit | null; error: string | null } {
  const limit = raiseFileLimit();
  if (limit === null) return { limit, error: null }; // unknown: nothing to check against
  const needed = filesNeeded(projectCount);
  if (needed <= limit.soft) return { limit, error: null };
  return {
    limit,
    error:
      `${projectCount} project(s) need about ${needed} open files (${FILES_PER_PROJECT} per project + ${FILES_RESERVED} for connections), ` +
      `but this process may open only ${limit.soft} (hard limit ${limit.hard}); raise it (ulimit -n, LimitNOFILE=) or serve fewer projects`,
  };
}
