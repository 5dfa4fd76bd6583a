/**
 * Opening an already-checked project failed (a missing file, no descriptor left...): retry later.
 * `busy`: another process holds the database's write lock (a backup, the sqlite3 shell); the
 * request may wait for it (see src/http/storage-wait.ts).
 */
export class ProjectOpenError extends Error {
  override readonly name = "ProjectOpenError";
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}
