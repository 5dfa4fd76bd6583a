import { Database } from "bun:sqlite";
import { accessSync, chmodSync, constants, existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { diagnoseStorage, isStorageError, sqliteCode } from "./storage-cause.ts";
import { DbOpenError } from "../open-error.ts";
import internalSql from "./internal.sql" with { type: "text" };
import { forgetCheckpoints } from "./checkpointer.ts";

/** Version of the internal layout (internal.sql). A database from a newer version is refused. */
export const INTERNAL_SCHEMA_VERSION = 1;
const FORMAT_MARK = "latchkey";
/**
 * Short on purpose: bun:sqlite is synchronous, so a busy wait blocks the whole event loop (every
 * project, /healthz). Requests wait for a lock held by another process asynchronously instead,
 * before they start (src/http/storage-wait.ts); this only absorbs a lock taken in between.
 */
export const BUSY_TIMEOUT_MS = 20;

// The error of a project that must not be loaded is engine-neutral (PostgreSQL raises it too).
export { DbOpenError };

/** A storage failure while opening `path`, with its real cause named when it can be found. */
export function storageFailure(path: string, e: unknown): DbOpenError {
  const cause = diagnoseStorage(path, e);
  const detail = `${(e as Error).message}${sqliteCode(e) ? ` (${sqliteCode(e)})` : ""}`;
  return new DbOpenError(
    cause === null ? `cannot use ${path}: ${detail}; it is retried` : `cannot use ${path}: ${cause} [${detail}]; it is retried`,
    { transient: true, sqliteCode: sqliteCode(e) },
  );
}

export interface OpenOptions {
  readonly readonly?: boolean;
  /** For a new database: the project id written into the marker. */
  readonly projectId: string;
  readonly nowIso: string;
  /**
   * Skip `PRAGMA quick_check` (which reads the whole file): only for a database this process has
   * already opened and checked, reopened after the open-projects limit closed it.
   */
  readonly alreadyChecked?: boolean;
}

/**
 * Page cache of one project connection, in KiB (SQLite's default is 2,000). Pages are allocated
 * as they are read, so an idle project costs little; the open-projects limit bounds the total.
 */
export const PROJECT_CACHE_KIB = 2048;

/**
 * Memory-mapped reads, per open project database (SQLite maps at most this much of the file).
 * A lookup in a large database reads its pages through the mapping instead of a pread into the
 * page cache per page; the mapping costs address space, not memory: only pages touched are
 * resident, and they are the kernel's file cache, shared and reclaimable. Writes still go through
 * the WAL (SQLite writes through the mapping never).
 */
export const PROJECT_MMAP_BYTES = 256 * 2 ** 20;

/**
 * Opens (or creates) a project database, sets and reads back the pragmas of SPEC §4, and makes
 * sure it is a Latchkey database of a version we understand. Never re-creates or overwrites an
 * existing file that is not ours, is corrupt, or is newer.
 */
/** Statements prepared on each project connection, so closing can finalize them (see closeProjectDb). */
const prepared = new WeakMap<Database, Set<WeakRef<{ finalize(): void }>>>();

function trackStatements(db: Database): void {
  const refs = new Set<WeakRef<{ finalize(): void }>>();
  prepared.set(db, refs);
  const remember = <T extends { finalize(): void }>(stmt: T): T => {
    refs.add(new WeakRef(stmt));
    // Drizzle prepares a statement per query: forget the ones already collected now and then.
    if (refs.size > 2_000) for (const r of refs) if (r.deref() === undefined) refs.delete(r);
    return stmt;
  };
  const prepare = db.prepare.bind(db);
  db.prepare = ((...args: Parameters<Database["prepare"]>) => remember(prepare(...args))) as Database["prepare"];
  // `query` keeps a small cache of its own and drops the oldest statements from it without
  // finalizing them (the collector does, some day): they are tracked too.
  const query = db.query.bind(db);
  const seen = new WeakSet<object>();
  db.query = ((...args: Parameters<Database["query"]>) => {
    const stmt = query(...args);
    if (!seen.has(stmt)) {
      seen.add(stmt);
      remember(stmt);
    }
    return stmt;
  }) as Database["query"];
}

/**
 * Closes a project connection for real. SQLite keeps a connection (and its file descriptors)
 * alive while any statement prepared on it is not finalized, and bun:sqlite finalizes a statement
 * only when it is garbage-collected; a server that closes idle projects must finalize them itself.
 */
export function closeProjectDb(db: Database): void {
  forgetCheckpoints(db);
  for (const r of prepared.get(db) ?? []) {
    try {
      r.deref()?.finalize();
    } catch {
      // already finalized
    }
  }
  prepared.delete(db);
  try {
    db.close(true); // throws while a statement prepared elsewhere (inside bun:sqlite) is still alive
  } catch {
    // Rare: let the collector finalize what is left, then close (SQLite finishes the close as soon
    // as the last statement is finalized).
    Bun.gc(true);
    db.close(false);
  }
}

export function openProjectDb(path: string, opts: OpenOptions): Database {
  const present = existsSync(path);
  const existed = present && statSync(path).size > 0;
  if (opts.readonly && !existed) throw new DbOpenError(`${path} does not exist`);
  if (present && !existed && !opts.readonly) refuseEmptyBesideOthers(path);
  let db: Database;
  try {
    db = opts.readonly ? new Database(path, { readonly: true }) : new Database(path, { create: true, readwrite: true });
  } catch (e) {
    if (isStorageError(e) || diagnoseStorage(path, e) !== null) throw storageFailure(path, e);
    throw new DbOpenError(`cannot open ${path}: ${(e as Error).message}`);
  }
  trackStatements(db);
  try {
    checkReadable(db, path, opts.alreadyChecked === true);
    // Identify the file before changing anything in it (even journal_mode rewrites the header).
    const tables = userVisibleTables(db);
    if (tables.length === 0 && opts.readonly) throw new DbOpenError(`${path} is empty`);
    if (tables.length > 0) checkMarker(db, path, opts.projectId, tables);
    if (!opts.readonly) {
      configurePragmas(db, path);
      makePrivate(path);
      if (tables.length > 0) checkWritable(db, path);
    }
    if (tables.length === 0) initialize(db, opts);
    else if (!opts.readonly) db.exec(internalSql); // adds internal tables a same-version upgrade may lack
    return db;
  } catch (e) {
    closeProjectDb(db);
    // A file this attempt created and could not fill (disk full) must not stay behind as an
    // empty database: the next attempt would have to refuse it.
    if (!present) for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    if (!(e instanceof DbOpenError) && isStorageError(e)) throw storageFailure(path, e);
    throw e;
  }
}

/**
 * An empty `{id}.db` cannot be told apart from a database truncated by a crash or a full disk.
 * In a data directory that already holds other project databases it is refused, not silently
 * turned into a fresh project (which would lose its users); in a fresh data directory it is new.
 */
function refuseEmptyBesideOthers(path: string): void {
  const dir = dirname(path);
  const others = readdirSync(dir).filter(
    (f) => f.endsWith(".db") && f !== basename(path) && statSync(join(dir, f)).size > 0,
  );
  if (others.length > 0) {
    throw new DbOpenError(
      `${path} is empty (0 bytes) while this data directory holds other project databases; it may be a truncated database. ` +
        "Restore it from a backup, or delete the empty file if the project is new",
    );
  }
}

/**
 * A database SQLite could open only read-only (a read-only mount with the -shm file present, a
 * write-protected file) must not serve and report ready. `BEGIN IMMEDIATE` alone succeeds there;
 * a write statement that changes nothing does not.
 */
function checkWritable(db: Database, path: string): void {
  try {
    db.exec("BEGIN IMMEDIATE; DELETE FROM _latchkey_meta WHERE 0; ROLLBACK");
  } catch (e) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw storageFailure(path, e);
  }
}

/**
 * A database found in sync at boot stays closed until its first request, so the boot's read-only
 * look must still find out that the server could not write it (a read-only mount, a file or
 * directory the server may not write): the cause is named and the project retried, never ready.
 * Two access() calls: the read-only look proves nothing about writing (after a crash, a WAL the
 * checkpoint thread had already copied opens read-only even on a read-only mount).
 */
export function checkFilesWritable(path: string): void {
  try {
    accessSync(dirname(path), constants.W_OK);
    accessSync(path, constants.W_OK);
  } catch (e) {
    throw storageFailure(path, e);
  }
}

/** The database and its -wal/-shm files hold user data: 0600 whatever the umask or their past mode. */
function makePrivate(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch {
      // a read-only mount: checkWritable names that cause next
    }
  }
}

function checkReadable(db: Database, path: string, alreadyChecked: boolean): void {
  try {
    db.query("SELECT count(*) FROM sqlite_master").get();
    if (alreadyChecked) return;
    const r = db.query("PRAGMA quick_check(1)").get() as { quick_check: string } | null;
    if (!r || r.quick_check !== "ok") throw new Error(r?.quick_check ?? "quick_check failed");
  } catch (e) {
    // "unable to open database file" or "disk I/O error" on a full disk or a read-only mount is
    // not corruption: name the real cause, and let the server try again.
    if (isStorageError(e) && (diagnoseStorage(path, e) !== null || !/^SQLITE_IOERR_(SHORT_READ|CORRUPTFS)/.test(sqliteCode(e) ?? ""))) {
      throw storageFailure(path, e);
    }
    throw new DbOpenError(
      `${path} is not a readable SQLite database or is corrupt (${(e as Error).message}); it was left untouched`,
    );
  }
}

function configurePragmas(db: Database, path: string): void {
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}; PRAGMA cache_size=-${PROJECT_CACHE_KIB}; PRAGMA mmap_size=${PROJECT_MMAP_BYTES};`);
  const read = (p: string): unknown => Object.values(db.query(`PRAGMA ${p}`).get() as Record<string, unknown>)[0];
  const checks: [string, unknown, unknown][] = [
    ["journal_mode", String(read("journal_mode")).toLowerCase(), "wal"],
    ["synchronous", Number(read("synchronous")), 2],
    ["foreign_keys", Number(read("foreign_keys")), 1],
    ["busy_timeout", Number(read("busy_timeout")), BUSY_TIMEOUT_MS],
  ];
  for (const [name, got, want] of checks) {
    if (got !== want) throw new DbOpenError(`${path}: PRAGMA ${name} is ${String(got)}, expected ${String(want)}`);
  }
}

function userVisibleTables(db: Database): string[] {
  return (db.query("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map(
    (r) => r.name,
  );
}

function initialize(db: Database, opts: OpenOptions): void {
  db.transaction(() => {
    db.exec(internalSql);
    const put = db.query("INSERT INTO _latchkey_meta(key, value) VALUES (?, ?)");
    put.run("format", FORMAT_MARK);
    put.run("schema_version", String(INTERNAL_SCHEMA_VERSION));
    put.run("project_id", opts.projectId);
    put.run("created_at", opts.nowIso);
  })();
}

function checkMarker(db: Database, path: string, projectId: string, tables: string[]): void {
  if (!tables.includes("_latchkey_meta")) {
    throw new DbOpenError(`${path} is not a Latchkey database (it has other tables); it was left untouched`);
  }
  const rows = db.query("SELECT key, value FROM _latchkey_meta").all() as { key: string; value: string }[];
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  if (meta.get("format") !== FORMAT_MARK) {
    throw new DbOpenError(`${path} is not a Latchkey database; it was left untouched`);
  }
  const version = Number(meta.get("schema_version"));
  if (!Number.isInteger(version) || version > INTERNAL_SCHEMA_VERSION) {
    throw new DbOpenError(
      `${path} was written by a newer Latchkey (schema version ${meta.get("schema_version")}, this build knows ${INTERNAL_SCHEMA_VERSION}); upgrade Latchkey`,
    );
  }
  if (meta.get("project_id") !== projectId) {
    throw new DbOpenError(`${path} belongs to project "${meta.get("project_id")}", not "${projectId}"`);
  }
}
