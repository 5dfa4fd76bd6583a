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

/**
 * A project database that must not be loaded; the message is safe to show (no SQL, no secrets),
 * on either engine (a sealed secret or key that this server key cannot open, a file that cannot be opened).
 * `transient` when the cause is the storage (full, read-only, no permission, locked), not the
 * file: the server tries again later.
 */
export class DbOpenError extends Error {
  override readonly name = "DbOpenError";
  readonly transient: boolean;
  /** The SQLite code of the failure behind it (SQLITE_BUSY: another process holds the write lock). */
  readonly sqliteCode: string | null;
  constructor(message: string, opts: { transient?: boolean; sqliteCode?: string | null } = {}) {
    super(message);
    this.transient = opts.transient ?? false;
    this.sqliteCode = opts.sqliteCode ?? null;
  }
}
