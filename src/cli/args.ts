/** Argument parsing for the CLI (SPEC §1). A flag beats the environment, which beats the defaults. */
import type { LogLevel } from "../log.ts";
import { DatabaseUrlError, parseDatabaseUrl, type DatabaseChoice } from "../storage/postgres/url.ts";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface ServeOptions {
  readonly configPaths: string[];
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  /** True when the public URL was derived from host and port (so `--port 0` fills in the real port). */
  readonly publicUrlDerived: boolean;
  readonly trustedProxies: string;
  readonly logLevel: LogLevel;
  /** Reload when a project file changes (SIGHUP always reloads). */
  readonly watch: boolean;
  /** Serve GET /metrics. */
  readonly metrics: boolean;
  /** Most project databases open at once (null: sized from the open-files limit, see README). */
  readonly maxOpenProjects: number | null;
  /** Directories of plugin files loaded at boot (`--plugins`, `LATCHKEY_PLUGINS`). */
  readonly pluginDirs: string[];
  /** `--database` / `LATCHKEY_DATABASE_URL` (SPEC 15); SQLite under the data dir by default. */
  readonly database: DatabaseChoice;
}

export type Command =
  | { kind: "serve"; options: ServeOptions }
  | { kind: "check"; configPaths: string[]; dataDir: string | null; json: boolean; envOptional: boolean; pluginDirs: string[]; database: DatabaseChoice }
  | { kind: "schema"; database: DatabaseChoice }
  | { kind: "init"; dir: string; force: boolean; plugin: "mail" | "hasher" | null }
  | { kind: "plugin-test"; target: string; options: string | null; otherOptions: string | null }
  | { kind: "plugin-init"; pluginKind: "mail" | "hasher"; file: string }
  | { kind: "keys-rotate"; projectId: string; which: "admin" | "public" | "both"; dataDir: string; database: DatabaseChoice }
  | { kind: "backup"; projectId: string; outPath: string; dataDir: string }
  | { kind: "restore"; projectId: string; fromPath: string; dataDir: string }
  | { kind: "version" }
  | { kind: "help" };

type Env = Record<string, string | undefined>;
const VALUE_FLAGS = new Set([
  "--config", "--data", "--host", "--port", "--public-url", "--trusted-proxies", "--log-level", "--project",
  "--out", "--from", "--plugins", "--max-open-projects", "--kind", "--options", "--other-options", "--plugin",
  "--database",
]);
const BOOL_FLAGS = new Set(["--admin", "--public", "--both", "--help", "--version", "--watch", "--metrics", "--json", "--env-optional", "--force"]);

interface Parsed {
  positional: string[];
  values: Map<string, string[]>;
  bools: Set<string>;
}

function tokenize(argv: readonly string[]): Parsed {
  const p: Parsed = { positional: [], values: new Map(), bools: new Set() };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    if (a.startsWith("--") && a.includes("=")) {
      inline = a.slice(a.indexOf("=") + 1);
      a = a.slice(0, a.indexOf("="));
    }
    if (a === "-h") a = "--help";
    if (a === "-v") a = "--version";
    if (VALUE_FLAGS.has(a)) {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith("--"))) throw new UsageError(`${a} needs a value`);
      p.values.set(a, [...(p.values.get(a) ?? []), v]);
    } else if (BOOL_FLAGS.has(a)) {
      if (inline !== undefined) throw new UsageError(`${a} takes no value`);
      p.bools.add(a);
    } else if (a.startsWith("-")) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      p.positional.push(a);
    }
  }
  return p;
}

function allow(p: Parsed, cmd: string, flags: string[]): void {
  for (const f of [...p.values.keys(), ...p.bools]) {
    if (!flags.includes(f)) throw new UsageError(`${f} is not an option of \`latchkey ${cmd}\``);
  }
}

function last(p: Parsed, flag: string): string | undefined {
  const v = p.values.get(flag);
  return v?.[v.length - 1];
}

function configPaths(p: Parsed, env: Env): string[] {
  const flags = p.values.get("--config");
  if (flags?.length) return flags;
  if (env.LATCHKEY_CONFIG) return env.LATCHKEY_CONFIG.split(",").map((s) => s.trim()).filter(Boolean);
  throw new UsageError("no project file given: use --config PATH (a file or a directory) or LATCHKEY_CONFIG; `latchkey init` writes a starter project file");
}

function pluginDirs(p: Parsed, env: Env): string[] {
  const flags = p.values.get("--plugins");
  if (flags?.length) return flags;
  return (env.LATCHKEY_PLUGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** `--database` beats LATCHKEY_DATABASE_URL; a malformed URL or an unknown scheme is a usage error (exit 2). */
function database(p: Parsed, env: Env): DatabaseChoice {
  try {
    return parseDatabaseUrl(last(p, "--database") ?? env.LATCHKEY_DATABASE_URL);
  } catch (e) {
    if (e instanceof DatabaseUrlError) throw new UsageError(e.message);
    throw e;
  }
}

const PLUGIN_USAGE = "usage: latchkey plugin test (FILE | BUILT-IN ID) [--options JSON] [--other-options JSON]\n       latchkey plugin init --kind mail|hasher FILE";

function parsePluginCommand(p: Parsed, sub: string | undefined, rest: string[]): Command {
  if (sub === "test") {
    allow(p, "plugin test", ["--options", "--other-options"]);
    if (rest.length !== 1) throw new UsageError(PLUGIN_USAGE);
    return { kind: "plugin-test", target: rest[0], options: last(p, "--options") ?? null, otherOptions: last(p, "--other-options") ?? null };
  }
  if (sub === "init") {
    allow(p, "plugin init", ["--kind"]);
    const kind = last(p, "--kind");
    if (kind !== "mail" && kind !== "hasher") throw new UsageError("plugin init needs --kind mail or --kind hasher");
    if (rest.length !== 1) throw new UsageError(PLUGIN_USAGE);
    return { kind: "plugin-init", pluginKind: kind, file: rest[0] };
  }
  throw new UsageError(PLUGIN_USAGE);
}

export function parseArgs(argv: readonly string[], env: Env): Command {
  const p = tokenize(argv);
  if (p.bools.has("--version") && p.positional.length === 0) return { kind: "version" };
  if (p.bools.has("--help") || p.positional.length === 0) return { kind: "help" };
  const [cmd, sub, ...rest] = p.positional;
  if (cmd === "serve") {
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`);
    allow(p, "serve", ["--config", "--data", "--host", "--port", "--public-url", "--trusted-proxies", "--log-level", "--watch", "--metrics", "--plugins", "--max-open-projects", "--database"]);
    const db = database(p, env);
    // Every replica must derive the same secrets: the key cannot be generated into a local data dir.
    if (db.engine === "postgres" && !env.LATCHKEY_SERVER_KEY) {
      throw new UsageError("serve --database postgres://... needs LATCHKEY_SERVER_KEY (base64, 32 bytes), the same on every replica");
    }
    const maxOpenText = last(p, "--max-open-projects") ?? env.LATCHKEY_MAX_OPEN_PROJECTS;
    if (maxOpenText !== undefined && (!/^\d+$/.test(maxOpenText) || Number(maxOpenText) < 1 || !Number.isSafeInteger(Number(maxOpenText)))) {
      throw new UsageError(`invalid --max-open-projects ${maxOpenText} (a whole number >= 1)`);
    }
    const host = last(p, "--host") ?? env.LATCHKEY_HOST ?? "127.0.0.1";
    const portText = last(p, "--port") ?? env.LATCHKEY_PORT ?? "8080";
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`invalid port ${portText}`);
    const logLevel = (last(p, "--log-level") ?? env.LATCHKEY_LOG_LEVEL ?? "info") as LogLevel;
    if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError(`invalid log level ${logLevel}`);
    const hostInUrl = host.includes(":") ? `[${host}]` : host;
    const givenUrl = last(p, "--public-url") ?? env.LATCHKEY_PUBLIC_URL;
    const publicUrl = (givenUrl ?? `http://${hostInUrl}:${port}`).replace(/\/+$/, "");
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(publicUrl);
    } catch {
      throw new UsageError(`invalid public URL ${publicUrl}`);
    }
    if (!["http:", "https:"].includes(parsedUrl.protocol) || parsedUrl.search || parsedUrl.hash || parsedUrl.username) {
      throw new UsageError("the public URL must be an http(s) URL without query, fragment or credentials");
    }
    return {
      kind: "serve",
      options: {
        configPaths: configPaths(p, env),
        dataDir: last(p, "--data") ?? env.LATCHKEY_DATA_DIR ?? "./data",
        host,
        port,
        publicUrl,
        publicUrlDerived: givenUrl === undefined,
        trustedProxies: last(p, "--trusted-proxies") ?? env.LATCHKEY_TRUSTED_PROXIES ?? "",
        logLevel,
        watch: p.bools.has("--watch"),
        metrics: p.bools.has("--metrics"),
        maxOpenProjects: maxOpenText === undefined ? null : Number(maxOpenText),
        pluginDirs: pluginDirs(p, env),
        database: db,
      },
    };
  }
  if (cmd === "check") {
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`);
    allow(p, "check", ["--config", "--data", "--json", "--env-optional", "--plugins", "--database"]);
    return {
      kind: "check",
      configPaths: configPaths(p, env),
      dataDir: last(p, "--data") ?? null,
      json: p.bools.has("--json"),
      envOptional: p.bools.has("--env-optional"),
      pluginDirs: pluginDirs(p, env),
      database: database(p, env),
    };
  }
  if (cmd === "schema") {
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`);
    allow(p, "schema", ["--database"]);
    return { kind: "schema", database: database(p, env) };
  }
  if (cmd === "init") {
    if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
    allow(p, "init", ["--force", "--plugin"]);
    const plugin = last(p, "--plugin") ?? null;
    if (plugin !== null && plugin !== "mail" && plugin !== "hasher") throw new UsageError("init --plugin takes mail or hasher");
    return { kind: "init", dir: sub ?? ".", force: p.bools.has("--force"), plugin };
  }
  if (cmd === "plugin") return parsePluginCommand(p, sub, rest);
  if (cmd === "keys") {
    if (sub !== "rotate" || rest.length) throw new UsageError("usage: latchkey keys rotate --project ID (--admin | --public | --both) [--data DIR]");
    allow(p, "keys rotate", ["--project", "--admin", "--public", "--both", "--data", "--database"]);
    const projectId = last(p, "--project");
    if (!projectId) throw new UsageError("keys rotate needs --project ID");
    const which = (["--admin", "--public", "--both"] as const).filter((f) => p.bools.has(f));
    if (which.length !== 1) throw new UsageError("keys rotate needs exactly one of --admin, --public, --both");
    return { kind: "keys-rotate", projectId, which: which[0].slice(2) as "admin" | "public" | "both", dataDir: last(p, "--data") ?? env.LATCHKEY_DATA_DIR ?? "./data", database: database(p, env) };
  }
  if (cmd === "backup" || cmd === "restore") {
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`);
    const fileFlag = cmd === "backup" ? "--out" : "--from";
    allow(p, cmd, ["--project", fileFlag, "--data", "--database"]);
    if (database(p, env).engine === "postgres") {
      throw new UsageError(cmd === "backup"
        ? "backup works on SQLite project files; with --database postgres://... back up the database with pg_dump (see docs/operations.md)"
        : "restore works on SQLite project files; with --database postgres://... restore the database with pg_restore or psql (see docs/operations.md)");
    }
    const projectId = last(p, "--project");
    const file = last(p, fileFlag);
    if (!projectId || !file) throw new UsageError(`usage: latchkey ${cmd} --project ID ${fileFlag} FILE [--data DIR]`);
    const dataDir = last(p, "--data") ?? env.LATCHKEY_DATA_DIR ?? "./data";
    return cmd === "backup" ? { kind: "backup", projectId, outPath: file, dataDir } : { kind: "restore", projectId, fromPath: file, dataDir };
  }
  throw new UsageError(`unknown command ${cmd}`);
}

export const HELP = `latchkey — a self-hosted auth server in one executable

Usage:
  latchkey serve  [--config PATH]... [--data DIR] [--host ADDR] [--port N] [--public-url URL]
                  [--trusted-proxies CIDR[,CIDR...]] [--log-level debug|info|warn|error]
                  [--watch] [--metrics] [--max-open-projects N] [--database URL]
                  SIGHUP (or, with --watch, a changed project file) reloads the project files.
  latchkey check  [--config PATH]... [--data DIR] [--json] [--env-optional] [--database URL]
                  validate project files, print the schema plan (and, with --data, drift)
  latchkey init   [DIR] [--force]   write a commented starter project file (DIR/project.yaml)
  latchkey init   [DIR] --plugin mail|hasher   write a plugin template (DIR/plugins/KIND.ts)
  latchkey schema                   print the JSON Schema (2020-12) of a project file
  latchkey plugin test (FILE | BUILT-IN ID) [--options JSON] [--other-options JSON]
                  run the plugin contract suite and print a pass/fail table
  latchkey plugin init --kind mail|hasher FILE        write a plugin template
  latchkey keys rotate --project ID (--admin | --public | --both) [--data DIR]
  latchkey backup  --project ID --out FILE [--data DIR]    consistent copy, also while serving
  latchkey restore --project ID --from FILE [--data DIR]   put a backup back (server stopped)
  latchkey --version | --help

PATH is a project file or a directory of *.yaml / *.yml files. serve and check also take
--plugins DIR (repeatable): every *.ts / *.js file in DIR is loaded as a plugin (see docs/plugins.md).
Environment: LATCHKEY_CONFIG, LATCHKEY_PLUGINS, LATCHKEY_DATA_DIR, LATCHKEY_HOST, LATCHKEY_PORT, LATCHKEY_PUBLIC_URL,
LATCHKEY_TRUSTED_PROXIES, LATCHKEY_LOG_LEVEL, LATCHKEY_SERVER_KEY (base64, 32 bytes),
LATCHKEY_METRICS_TOKEN (bearer token GET /metrics then requires), LATCHKEY_MAX_OPEN_PROJECTS,
LATCHKEY_DATABASE_URL (same as --database: postgres://user:password@host:5432/db; default SQLite under --data).
On PostgreSQL this build plans and applies schemas (check); serve and keys rotate are not available yet.
Exit codes: 0 clean exit, 1 runtime failure, 2 bad usage or invalid configuration.
`;
