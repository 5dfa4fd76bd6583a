/**
 * The CLI's commands (SPEC §1), read from argv by `node:util` parseArgs (see argv.ts). A flag beats
 * the environment, which beats the defaults.
 */
import type { LogLevel } from "../log.ts";
import { lexArgs, readOptions, UsageError, type CommandOptions, type Lexed } from "./argv.ts";

export { UsageError } from "./argv.ts";

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
}

export type Command =
  | { kind: "serve"; options: ServeOptions }
  | { kind: "check"; configPaths: string[]; dataDir: string | null; json: boolean; envOptional: boolean; pluginDirs: string[] }
  | { kind: "schema" }
  | { kind: "init"; dir: string; force: boolean; plugin: "mail" | "hasher" | null }
  | { kind: "plugin-test"; target: string; options: string | null; otherOptions: string | null }
  | { kind: "plugin-init"; pluginKind: "mail" | "hasher"; file: string }
  | { kind: "keys-rotate"; projectId: string; which: "admin" | "public" | "both"; dataDir: string }
  | { kind: "backup"; projectId: string; outPath: string; dataDir: string }
  | { kind: "restore"; projectId: string; fromPath: string; dataDir: string }
  | { kind: "version" }
  | { kind: "help" };

type Env = Record<string, string | undefined>;

/** Defaults of `serve` (and of `--data` wherever a command takes it). */
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = "8080";
export const DEFAULT_DATA_DIR = "./data";

/** How a host appears inside a URL (an IPv6 address in brackets). */
export function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function configPaths(o: CommandOptions, env: Env): string[] {
  const flags = o.all("config");
  if (flags.length) return [...flags];
  if (env.LATCHKEY_CONFIG) return env.LATCHKEY_CONFIG.split(",").map((s) => s.trim()).filter(Boolean);
  throw new UsageError("no project file given: use --config PATH (a file or a directory) or LATCHKEY_CONFIG; `latchkey init` writes a starter project file");
}

function pluginDirs(o: CommandOptions, env: Env): string[] {
  const flags = o.all("plugins");
  if (flags.length) return [...flags];
  return (env.LATCHKEY_PLUGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

function dataDirOf(o: CommandOptions, env: Env): string {
  return o.last("data") ?? env.LATCHKEY_DATA_DIR ?? DEFAULT_DATA_DIR;
}

function noArgument(arg: string | undefined): void {
  if (arg !== undefined) throw new UsageError(`unexpected argument ${arg}`);
}

const PLUGIN_USAGE = "usage: latchkey plugin test (FILE | BUILT-IN ID) [--options JSON] [--other-options JSON]\n       latchkey plugin init --kind mail|hasher FILE";

function parsePluginCommand(lexed: Lexed, sub: string | undefined, rest: readonly string[]): Command {
  if (sub === "test") {
    const o = readOptions(lexed, "plugin test", ["options", "other-options"]);
    if (rest.length !== 1) throw new UsageError(PLUGIN_USAGE);
    return { kind: "plugin-test", target: rest[0], options: o.last("options") ?? null, otherOptions: o.last("other-options") ?? null };
  }
  if (sub === "init") {
    const o = readOptions(lexed, "plugin init", ["kind"]);
    const kind = o.last("kind");
    if (kind !== "mail" && kind !== "hasher") throw new UsageError("plugin init needs --kind mail or --kind hasher");
    if (rest.length !== 1) throw new UsageError(PLUGIN_USAGE);
    return { kind: "plugin-init", pluginKind: kind, file: rest[0] };
  }
  throw new UsageError(PLUGIN_USAGE);
}

function parseServe(lexed: Lexed, env: Env): Command {
  const o = readOptions(lexed, "serve", ["config", "data", "host", "port", "public-url", "trusted-proxies", "log-level", "watch", "metrics", "plugins", "max-open-projects"]);
  const maxOpenText = o.last("max-open-projects") ?? env.LATCHKEY_MAX_OPEN_PROJECTS;
  if (maxOpenText !== undefined && (!/^\d+$/.test(maxOpenText) || Number(maxOpenText) < 1 || !Number.isSafeInteger(Number(maxOpenText)))) {
    throw new UsageError(`invalid --max-open-projects ${maxOpenText} (a whole number >= 1)`);
  }
  const host = o.last("host") ?? env.LATCHKEY_HOST ?? DEFAULT_HOST;
  const portText = o.last("port") ?? env.LATCHKEY_PORT ?? DEFAULT_PORT;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`invalid port ${portText}`);
  const logLevel = (o.last("log-level") ?? env.LATCHKEY_LOG_LEVEL ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError(`invalid log level ${logLevel}`);
  const givenUrl = o.last("public-url") ?? env.LATCHKEY_PUBLIC_URL;
  const publicUrl = (givenUrl ?? `http://${hostForUrl(host)}:${port}`).replace(/\/+$/, "");
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
      configPaths: configPaths(o, env),
      dataDir: dataDirOf(o, env),
      host,
      port,
      publicUrl,
      publicUrlDerived: givenUrl === undefined,
      trustedProxies: o.last("trusted-proxies") ?? env.LATCHKEY_TRUSTED_PROXIES ?? "",
      logLevel,
      watch: o.has("watch"),
      metrics: o.has("metrics"),
      maxOpenProjects: maxOpenText === undefined ? null : Number(maxOpenText),
      pluginDirs: pluginDirs(o, env),
    },
  };
}

function parseKeys(lexed: Lexed, sub: string | undefined, rest: readonly string[], env: Env): Command {
  if (sub !== "rotate" || rest.length) throw new UsageError("usage: latchkey keys rotate --project ID (--admin | --public | --both) [--data DIR]");
  const o = readOptions(lexed, "keys rotate", ["project", "admin", "public", "both", "data"]);
  const projectId = o.last("project");
  if (!projectId) throw new UsageError("keys rotate needs --project ID");
  const which = (["admin", "public", "both"] as const).filter((f) => o.has(f));
  if (which.length !== 1) throw new UsageError("keys rotate needs exactly one of --admin, --public, --both");
  return { kind: "keys-rotate", projectId, which: which[0], dataDir: dataDirOf(o, env) };
}

function parseBackupOrRestore(lexed: Lexed, cmd: "backup" | "restore", sub: string | undefined, env: Env): Command {
  noArgument(sub);
  const fileFlag = cmd === "backup" ? "out" : "from";
  const o = readOptions(lexed, cmd, ["project", fileFlag, "data"]);
  const projectId = o.last("project");
  const file = o.last(fileFlag);
  if (!projectId || !file) throw new UsageError(`usage: latchkey ${cmd} --project ID --${fileFlag} FILE [--data DIR]`);
  const dataDir = dataDirOf(o, env);
  return cmd === "backup" ? { kind: "backup", projectId, outPath: file, dataDir } : { kind: "restore", projectId, fromPath: file, dataDir };
}

/** Reads the command line; throws UsageError (exit 2) with the message to print. */
export function parseArgs(argv: readonly string[], env: Env): Command {
  const lexed = lexArgs(argv);
  if (lexed.has("version") && lexed.positional.length === 0) return { kind: "version" };
  if (lexed.has("help") || lexed.positional.length === 0) return { kind: "help" };
  const [cmd, sub, ...rest] = lexed.positional;
  switch (cmd) {
    case "serve":
      noArgument(sub);
      return parseServe(lexed, env);
    case "check": {
      noArgument(sub);
      const o = readOptions(lexed, "check", ["config", "data", "json", "env-optional", "plugins"]);
      return {
        kind: "check",
        configPaths: configPaths(o, env),
        dataDir: o.last("data") ?? null,
        json: o.has("json"),
        envOptional: o.has("env-optional"),
        pluginDirs: pluginDirs(o, env),
      };
    }
    case "schema":
      noArgument(sub);
      readOptions(lexed, "schema", []);
      return { kind: "schema" };
    case "init": {
      noArgument(rest[0]);
      const o = readOptions(lexed, "init", ["force", "plugin"]);
      const plugin = o.last("plugin") ?? null;
      if (plugin !== null && plugin !== "mail" && plugin !== "hasher") throw new UsageError("init --plugin takes mail or hasher");
      return { kind: "init", dir: sub ?? ".", force: o.has("force"), plugin };
    }
    case "plugin":
      return parsePluginCommand(lexed, sub, rest);
    case "keys":
      return parseKeys(lexed, sub, rest, env);
    case "backup":
    case "restore":
      return parseBackupOrRestore(lexed, cmd, sub, env);
  }
  throw new UsageError(`unknown command ${cmd}`);
}

export const HELP = `latchkey — a self-hosted auth server in one executable

Usage:
  latchkey serve  [--config PATH]... [--data DIR] [--host ADDR] [--port N] [--public-url URL]
                  [--trusted-proxies CIDR[,CIDR...]] [--log-level debug|info|warn|error]
                  [--watch] [--metrics] [--max-open-projects N]
                  SIGHUP (or, with --watch, a changed project file) reloads the project files.
  latchkey check  [--config PATH]... [--data DIR] [--json] [--env-optional]
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
LATCHKEY_METRICS_TOKEN (bearer token GET /metrics then requires), LATCHKEY_MAX_OPEN_PROJECTS.
Exit codes: 0 clean exit, 1 runtime failure, 2 bad usage or invalid configuration.
`;
