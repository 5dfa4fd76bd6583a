/**
 * `--database URL` / `LATCHKEY_DATABASE_URL` (SPEC 15): SQLite under the data dir by default, or
 * `postgres://` (`postgresql://`) for every project in one PostgreSQL database. Checked before
 * anything connects, with messages that never echo the password.
 */

export type DatabaseChoice =
  | { readonly engine: "sqlite" }
  | {
      readonly engine: "postgres";
      /** The URL as given (handed to Bun's SQL client, which reads `sslmode` and `max` from it). */
      readonly url: string;
      /** The URL with its password replaced by `***`, for messages and logs. */
      readonly display: string;
    };

export class DatabaseUrlError extends Error {
  override readonly name = "DatabaseUrlError";
}

const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"] as const;
export const MAX_POOL = 1000;

/** The URL with any password hidden. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = "***";
  return copy.href;
}

/** Parses the value of `--database` / `LATCHKEY_DATABASE_URL`; undefined or empty = SQLite. */
export function parseDatabaseUrl(value: string | undefined): DatabaseChoice {
  if (value === undefined || value.trim() === "") return { engine: "sqlite" };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DatabaseUrlError("--database is not a URL: expected postgres://user:password@host:5432/database");
  }
  if (url.protocol === "sqlite:") return { engine: "sqlite" };
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new DatabaseUrlError(
      `--database: unsupported scheme "${url.protocol.replace(/:$/, "")}" (supported: postgres://, postgresql://; leave it unset for SQLite)`,
    );
  }
  const display = redactUrl(url);
  if (url.hostname === "" && !url.searchParams.has("host") && !url.searchParams.has("socket") && !url.searchParams.has("path")) {
    throw new DatabaseUrlError(`--database ${display}: the URL names no host`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/")) {
    throw new DatabaseUrlError(`--database ${display}: the URL must name one database (postgres://host:5432/<database>)`);
  }
  const sslmode = url.searchParams.get("sslmode");
  if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new DatabaseUrlError(`--database ${display}: sslmode must be one of ${SSL_MODES.join(", ")}`);
  }
  const max = url.searchParams.get("max");
  if (max !== null && (!/^[1-9][0-9]*$/.test(max) || Number(max) > MAX_POOL)) {
    throw new DatabaseUrlError(`--database ${display}: max (the pool size) must be a whole number from 1 to ${MAX_POOL}`);
  }
  return { engine: "postgres", url: value, display };
}

/**
 * The schema that holds a project: `demo-app` -> `latchkey_demo_app`. Project ids are lowercase
 * letters, digits and `-` (at most 63), so the name is a plain identifier; PostgreSQL cuts names at
 * 63 bytes, so a longer one is refused rather than silently shared by two projects.
 */
export const SCHEMA_PREFIX = "latchkey_";
export function projectSchemaName(projectId: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(projectId)) throw new DatabaseUrlError(`project id "${projectId}" cannot name a schema`);
  const name = `${SCHEMA_PREFIX}${projectId.replaceAll("-", "_")}`;
  if (name.length > 63) {
    throw new DatabaseUrlError(`project id "${projectId}" is too long for PostgreSQL: its schema ${name} is over 63 characters (use at most ${63 - SCHEMA_PREFIX.length})`);
  }
  return name;
}
