/**
 * Plugins without a rebuild (SPEC §10): every `*.ts` / `*.js` file of the operator's plugin
 * directories is imported at boot by the runtime inside the binary, before any project file is
 * validated. A file default-exports `(api) => plugin | plugin[]`; the plugins join the built-in
 * registry under their own ids.
 *
 * A plugin runs with the server's rights, so what may be loaded is strict: only the directories
 * the operator names, not recursive, and nothing another local user could have written.
 */
import { existsSync, lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { PluginRegistry } from "../../plugins/index.ts";
import { PLUGIN_API, type MailProviderFactory, type PasswordHasherFactory } from "../plugin-api.ts";

/** One refusal, naming the file (or directory) it is about. */
export interface PluginProblem {
  readonly file: string;
  readonly message: string;
}

export type PluginFactoryAny = MailProviderFactory | PasswordHasherFactory;

export interface LoadedPlugin {
  readonly factory: PluginFactoryAny;
  /** Absolute path of the file it came from. */
  readonly file: string;
}

export interface PluginLoadResult {
  /** The built-ins plus every loaded plugin; only meaningful when `problems` is empty. */
  readonly registry: PluginRegistry;
  readonly loaded: readonly LoadedPlugin[];
  readonly problems: readonly PluginProblem[];
}

const PLUGIN_FILE = /\.(ts|js)$/;
const PLUGIN_ID = /^[a-z][a-z0-9_-]{0,62}$/;
const GROUP_OR_OTHER_WRITE = 0o022;

/** `*.ts` and `*.js`, but not type declarations (`*.d.ts`), which hold no code. */
export function isPluginFileName(name: string): boolean {
  return PLUGIN_FILE.test(name) && !name.endsWith(".d.ts");
}

/**
 * Refuses what another local user could have changed: writable by group or others, or owned by
 * someone other than the server's user or root (as OpenSSH's StrictModes does).
 */
export function unsafePermissions(st: Stats, what: "file" | "directory"): string | null {
  if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0) {
    return `the plugin ${what} is writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(3, "0")}); run chmod go-w on it`;
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    return `the plugin ${what} belongs to another user (uid ${st.uid}); it must belong to the server's user or root`;
  }
  return null;
}

function isSchema(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "schema" &&
    typeof (value as Record<string, unknown>)["~run"] === "function";
}

/** Why `value` is not a plugin factory made by `defineMailProvider` / `defineHasher`, or null. */
export function invalidPluginReason(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return `the result is not a plugin but ${value === null ? "null" : typeof value}; return defineMailProvider({...}) or defineHasher({...})`;
  const f = value as Record<string, unknown>;
  if (f.kind !== "mail" && f.kind !== "hasher") return "the result is not a plugin (no kind); build it with defineMailProvider or defineHasher";
  if (typeof f.id !== "string" || !PLUGIN_ID.test(f.id)) return `the plugin id must match ${PLUGIN_ID} (got ${JSON.stringify(f.id) ?? String(f.id)})`;
  if (!isSchema(f.optionsSchema)) return `plugin "${f.id}": optionsSchema must be a valibot schema built with the v of the plugin API`;
  if (typeof f.create !== "function") return `plugin "${f.id}": create must be a function`;
  return null;
}

const SOURCES = new WeakMap<object, string>();

/** The file a plugin factory was loaded from, or undefined for a built-in. */
export function pluginSource(factory: object): string | undefined {
  return SOURCES.get(factory);
}

/** Imports one plugin file and returns its factories; throws an Error whose message says what is wrong. */
export async function importPluginFile(file: string): Promise<PluginFactoryAny[]> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`the file threw while loading: ${describe(err)}`);
  }
  if (typeof mod.default !== "function") {
    throw new Error("the file must default-export a function that receives the plugin API and returns a plugin or an array of plugins");
  }
  let result: unknown;
  try {
    result = await (mod.default as (api: typeof PLUGIN_API) => unknown)(PLUGIN_API);
  } catch (err) {
    throw new Error(`the plugin function threw: ${describe(err)}`);
  }
  const list = Array.isArray(result) ? result : [result];
  if (list.length === 0) throw new Error("the plugin function returned an empty array");
  for (const item of list) {
    const reason = invalidPluginReason(item);
    if (reason !== null) throw new Error(reason);
  }
  for (const item of list) SOURCES.set(item as object, file);
  return list as PluginFactoryAny[];
}

function describe(err: unknown): string {
  let text = err instanceof Error ? `${err.name === "Error" ? "" : `${err.name}: `}${err.message}` : String(err);
  // A file that does not parse comes back as an AggregateError of the parser's messages.
  if (err instanceof AggregateError) text += `: ${err.errors.slice(0, 3).map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`;
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 500);
}

/** Entries of a plugin directory's node_modules looked at, at most (a guard against a huge tree). */
const MAX_NODE_MODULES_ENTRIES = 100_000;

/**
 * The packages a plugin imports run with the server's rights too, so the `node_modules` beside the
 * plugins must be as safe as the files: the first entry another user could change, or null.
 * Symbolic links are not followed (their targets are outside what the operator put there).
 */
function firstUnsafeUnder(root: string): { path: string; message: string } | null {
  const stack = [root];
  let seen = 0;
  while (stack.length > 0) {
    const path = stack.pop() as string;
    if (++seen > MAX_NODE_MODULES_ENTRIES) return { path: root, message: `more than ${MAX_NODE_MODULES_ENTRIES} entries; cannot check them all` };
    const st = lstatSync(path);
    if (st.isSymbolicLink()) continue;
    const problem = unsafePermissions(st, st.isDirectory() ? "directory" : "file");
    if (problem !== null) return { path, message: problem.replace("the plugin", "a node_modules") };
    if (st.isDirectory()) for (const name of readdirSync(path)) stack.push(join(path, name));
  }
  return null;
}

/** The plugin files of one directory, sorted; problems for the directory itself or unsafe files. */
function listPluginFiles(dir: string, problems: PluginProblem[]): string[] {
  const absolute = resolve(dir);
  let st: Stats;
  try {
    st = statSync(absolute);
  } catch {
    problems.push({ file: dir, message: "no such plugin directory" });
    return [];
  }
  if (!st.isDirectory()) {
    problems.push({ file: dir, message: "not a directory (--plugins takes a directory of *.ts / *.js files)" });
    return [];
  }
  const dirProblem = unsafePermissions(st, "directory");
  if (dirProblem !== null) {
    problems.push({ file: dir, message: dirProblem });
    return [];
  }
  const nodeModules = join(absolute, "node_modules");
  if (existsSync(nodeModules)) {
    const unsafe = firstUnsafeUnder(nodeModules);
    if (unsafe !== null) {
      problems.push({ file: unsafe.path, message: `${unsafe.message} (plugins of ${dir} import from it)` });
      return [];
    }
  }
  const files: string[] = [];
  for (const name of readdirSync(absolute).sort()) {
    if (!isPluginFileName(name)) continue;
    const file = join(absolute, name);
    let fst: Stats;
    try {
      fst = statSync(file);
    } catch {
      problems.push({ file, message: "cannot be read (a dangling link?)" });
      continue;
    }
    if (!fst.isFile()) continue;
    const fileProblem = unsafePermissions(fst, "file");
    if (fileProblem !== null) problems.push({ file, message: fileProblem });
    else files.push(file);
  }
  return files;
}

/**
 * Loads every plugin file of `dirs` on top of `builtins`. Nothing is half-applied: when any file is
 * refused, `problems` lists every refusal and the caller stops (exit 2).
 */
export async function loadPluginDirs(dirs: readonly string[], builtins: PluginRegistry): Promise<PluginLoadResult> {
  const problems: PluginProblem[] = [];
  const hashers: Record<string, PasswordHasherFactory> = { ...builtins.hashers };
  const mailProviders: Record<string, MailProviderFactory> = { ...builtins.mailProviders };
  const origin = new Map<string, string>();
  const loaded: LoadedPlugin[] = [];
  const files = [...new Set(dirs.flatMap((d) => listPluginFiles(d, problems)))];
  for (const file of files) {
    let factories: PluginFactoryAny[];
    try {
      factories = await importPluginFile(file);
    } catch (err) {
      problems.push({ file, message: (err as Error).message });
      continue;
    }
    for (const factory of factories) {
      const table: Record<string, PluginFactoryAny> = factory.kind === "hasher" ? hashers : mailProviders;
      const kindName = factory.kind === "hasher" ? "hasher" : "mail provider";
      const key = `${factory.kind}:${factory.id}`;
      if (Object.hasOwn(factory.kind === "hasher" ? builtins.hashers : builtins.mailProviders, factory.id)) {
        problems.push({ file, message: `${kindName} id "${factory.id}" clashes with the built-in ${kindName} of that id; choose another id` });
        continue;
      }
      const earlier = origin.get(key);
      if (earlier !== undefined) {
        problems.push({ file, message: `${kindName} id "${factory.id}" is already defined by ${earlier === file ? "this same file" : basename(earlier)} (${earlier})` });
        continue;
      }
      origin.set(key, file);
      table[factory.id] = factory;
      loaded.push({ factory, file });
    }
  }
  return { registry: { hashers, mailProviders }, loaded, problems };
}
