/**
 * Reading the command line with `node:util` `parseArgs`, and our own mapping of what it finds to
 * the CLI's usage messages (exit 2, SPEC §1).
 *
 * Two passes: a lenient pass lexes argv into tokens (the command is not known yet, and `--help`
 * anywhere wins over a misplaced flag), and every problem is reported in argv order with the
 * message the CLI has always printed; then `readOptions` reads one command's flags in strict mode,
 * which refuses anything that command does not take.
 */
import { parseArgs as parseArgv } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Flags that take a value (repeatable: the last one wins unless a command reads them all). */
export const VALUE_FLAGS = [
  "config", "data", "host", "port", "public-url", "trusted-proxies", "log-level", "project",
  "out", "from", "plugins", "max-open-projects", "kind", "options", "other-options", "plugin",
] as const;
export const BOOL_FLAGS = ["admin", "public", "both", "help", "version", "watch", "metrics", "json", "env-optional", "force"] as const;

export type ValueFlag = (typeof VALUE_FLAGS)[number];
export type BoolFlag = (typeof BOOL_FLAGS)[number];
export type Flag = ValueFlag | BoolFlag;

type OptionSpec = { type: "string"; multiple: true } | { type: "boolean"; short?: string };

const VALUE_SET: ReadonlySet<string> = new Set(VALUE_FLAGS);
const BOOL_SET: ReadonlySet<string> = new Set(BOOL_FLAGS);
const SHORT: Readonly<Record<string, BoolFlag>> = { "-h": "help", "-v": "version" };

function optionSpecs(flags: readonly Flag[]): Record<string, OptionSpec> {
  const specs: Record<string, OptionSpec> = {};
  for (const f of flags) {
    specs[f] = VALUE_SET.has(f) ? { type: "string", multiple: true } : { type: "boolean", ...(f === "help" ? { short: "h" } : f === "version" ? { short: "v" } : {}) };
  }
  return specs;
}

const ALL_OPTIONS = optionSpecs([...VALUE_FLAGS, ...BOOL_FLAGS]);

/** A command line, lexed: positionals, and the flags in the order they first appeared. */
export interface Lexed {
  readonly positional: readonly string[];
  /** Value flags first, then boolean flags, each in order of first appearance (for error order). */
  readonly flagsSeen: readonly Flag[];
  has(flag: BoolFlag): boolean;
  /** argv with every flag spelled `--name` or `--name=value`, for the strict pass. */
  readonly normalized: readonly string[];
}

/** How the raw argument names its flag: `--port=1` → `--port`, `-h` → `--help`. */
function spelledFlag(raw: string): string {
  const a = raw.startsWith("--") && raw.includes("=") ? raw.slice(0, raw.indexOf("=")) : raw;
  const short = SHORT[a];
  return short ? `--${short}` : a;
}

/** Lexes argv; throws UsageError for the first unknown option, missing value or value given to a switch. */
export function lexArgs(argv: readonly string[]): Lexed {
  const { tokens } = parseArgv({ args: [...argv], options: ALL_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const positional: string[] = [];
  const values: Flag[] = [];
  const bools: Flag[] = [];
  const normalized: string[] = [];
  let lastIndex = -1;
  for (const t of tokens) {
    // `-abc` lexes as three short options from one argument: judge the argument once, as a whole.
    if (t.index === lastIndex) continue;
    lastIndex = t.index;
    const raw = argv[t.index];
    if (t.kind === "option-terminator") throw new UsageError(`unknown option ${raw}`);
    if (t.kind === "positional") {
      // A lone `-` is an option to us, never a file name.
      if (t.value.startsWith("-")) throw new UsageError(`unknown option ${t.value}`);
      positional.push(t.value);
      continue;
    }
    const flag = spelledFlag(raw);
    const name = flag.slice(2);
    if (!flag.startsWith("--") || name !== t.name) throw new UsageError(`unknown option ${flag}`);
    if (VALUE_SET.has(name)) {
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith("--"))) throw new UsageError(`${flag} needs a value`);
      if (!values.includes(name as Flag)) values.push(name as Flag);
      normalized.push(`${flag}=${t.value}`);
    } else if (BOOL_SET.has(name)) {
      if (t.inlineValue) throw new UsageError(`${flag} takes no value`);
      if (!bools.includes(name as Flag)) bools.push(name as Flag);
      normalized.push(flag);
    } else {
      throw new UsageError(`unknown option ${flag}`);
    }
  }
  const seen = new Set(bools);
  return { positional, flagsSeen: [...values, ...bools], has: (f) => seen.has(f), normalized: [...normalized, ...positional] };
}

/** What one command read: the values of each flag (all of them, in order) and its switches. */
export interface CommandOptions {
  all(flag: ValueFlag): readonly string[];
  /** The last value given, or undefined. */
  last(flag: ValueFlag): string | undefined;
  has(flag: BoolFlag): boolean;
}

/**
 * Reads the flags of one command (strict: a flag the command does not take is a usage error
 * naming the command). Positionals were read by `lexArgs`.
 */
export function readOptions(lexed: Lexed, command: string, flags: readonly Flag[]): CommandOptions {
  for (const f of lexed.flagsSeen) {
    if (!flags.includes(f)) throw new UsageError(`--${f} is not an option of \`latchkey ${command}\``);
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgv({ args: [...lexed.normalized], options: optionSpecs(flags), strict: true, allowPositionals: true }));
  } catch (e) {
    // Unreachable after lexArgs' checks; still a usage error, never a crash.
    throw new UsageError((e as Error).message);
  }
  return {
    all: (flag) => (values[flag] as string[] | undefined) ?? [],
    last: (flag) => (values[flag] as string[] | undefined)?.at(-1),
    has: (flag) => values[flag] === true,
  };
}
