/**
 * Open files: each open project holds five (see FDS_PER_OPEN_PROJECT), and every connection
 * one more. Past the process limit, projects fail to open and the port stops accepting even
 * /healthz, so the soft limit is raised to the hard one at start, and a server whose open projects
 * cannot fit refuses to boot with a message instead of failing one project at a time. Projects
 * are opened on demand and at most `--max-open-projects` at once (projects/pool.ts), so that cap,
 * not the number of configured projects, is what must fit.
 */
import { raiseFileLimit, type FileLimit } from "./libc.ts";

/**
 * File descriptors one open project holds, exactly: the database and its WAL for the serving
 * connection, the same two for the checkpoint thread's connection (opened when the project opens,
 * closed before it closes: storage/sqlite/checkpoint-worker.ts), and the shared-memory file, which
 * SQLite opens once per process. A closed project holds none.
 */
export const FDS_PER_OPEN_PROJECT = 5;
/** Descriptors kept for sockets, the binary, logs and projects still closing. */
const FD_RESERVE = 512;
const MAX_DEFAULT_OPEN = 1_000;

/** The default `--max-open-projects`: well inside the open-files limit, at most 1,000. */
export function defaultMaxOpenProjects(openFilesLimit: number | null): number {
  if (openFilesLimit === null || !Number.isFinite(openFilesLimit)) return MAX_DEFAULT_OPEN;
  // Half of what the descriptors left after the reserve would allow: sockets need the rest.
  const fit = Math.floor((openFilesLimit - FD_RESERVE) / FDS_PER_OPEN_PROJECT / 2);
  return Math.max(1, Math.min(MAX_DEFAULT_OPEN, fit));
}

/** The soft open-files limit of this process (Linux), or null when it cannot be read. */
export function readOpenFilesLimit(): number | null {
  try {
    const text = require("node:fs").readFileSync("/proc/self/limits", "utf8") as string;
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return null;
    return m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

export const FILES_PER_PROJECT = FDS_PER_OPEN_PROJECT;
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
