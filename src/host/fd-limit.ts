/**
 * Open files: each open project holds about four (database, -wal, -shm, and the database descriptor
 * kept from the checkpoint thread's connection), and every connection
 * one more. Past the process limit, projects fail to open and the port stops accepting even
 * /healthz, so the soft limit is raised to the hard one at start, and a server whose open projects
 * cannot fit refuses to boot with a message instead of failing one project at a time. Projects
 * are opened on demand and at most `--max-open-projects` at once (projects/pool.ts), so that cap,
 * not the number of configured projects, is what must fit.
 */
import { raiseFileLimit, type FileLimit } from "./libc.ts";
import { defaultMaxOpenProjects, readOpenFilesLimit } from "../projects/pool.ts";

export const FILES_PER_PROJECT = 4;
/** stdio, the listening socket, the lock file, plugins, and room for client connections. */
export const FILES_RESERVED = 100;

export function filesNeeded(openProjects: number): number {
  return openProjects * FILES_PER_PROJECT + FILES_RESERVED;
}

/**
 * Raises the limit, settles the open-projects limit (`maxOpenProjects`, or when null the default
 * sized from the raised limit) and returns an error message when that many open projects cannot
 * fit in the limit. Fewer configured projects than the cap need only their own files.
 */
export function ensureFileLimit(
  projectCount: number,
  maxOpenProjects: number | null = null,
): { limit: FileLimit | null; maxOpen: number; error: string | null } {
  const limit = raiseFileLimit();
  const maxOpen = maxOpenProjects ?? defaultMaxOpenProjects(limit?.soft ?? readOpenFilesLimit());
  if (limit === null) return { limit, maxOpen, error: null }; // unknown: nothing to check against
  const open = Math.min(projectCount, maxOpen);
  const needed = filesNeeded(open);
  if (needed <= limit.soft) return { limit, maxOpen, error: null };
  const what = open === projectCount ? `${projectCount} project(s)` : `${open} open project(s) (--max-open-projects ${maxOpen}, of ${projectCount})`;
  return {
    limit,
    maxOpen,
    error:
      `${what} need about ${needed} open files (${FILES_PER_PROJECT} per open project + ${FILES_RESERVED} for connections), ` +
      `but this process may open only ${limit.soft} (hard limit ${limit.hard}); raise it (ulimit -n, LimitNOFILE=) or lower --max-open-projects`,
  };
}
