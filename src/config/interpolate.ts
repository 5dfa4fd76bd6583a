/**
 * `${NAME}` / `${NAME:-default}` substitution in the string values of a parsed YAML document
 * (never in keys), before validation. `$${` is a literal `${`. As in the shell, `:-` also applies
 * when the variable is set but empty.
 */

export interface InterpolationIssue {
  readonly path: string;
  readonly message: string;
}

export interface InterpolationResult {
  readonly value: unknown;
  readonly issues: readonly InterpolationIssue[];
  /** Every non-empty value taken from the environment: treated as secret by the issue reporter. */
  readonly envValues: readonly string[];
  /** Key paths whose value could not be interpolated (later checks on them would only add noise). */
  readonly failedPaths: readonly string[];
}

const REFERENCE = /\$\$\{|\$\{([^{}]*)\}|\$\{/g;
const NAME_AND_DEFAULT = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

interface WalkState {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly issues: InterpolationIssue[];
  readonly envValues: Set<string>;
  readonly failedPaths: string[];
}

function joinPath(parent: string, key: string | number): string {
  return parent === "" ? String(key) : `${parent}.${key}`;
}

function interpolateString(input: string, path: string, state: WalkState): string {
  let failed = false;
  const output = input.replace(REFERENCE, (match: string, inner: string | undefined): string => {
    if (match === "$${") return "${";
    if (inner === undefined) {
      failed = true;
      state.issues.push({ path, message: "unterminated ${ reference: use ${NAME} or ${NAME:-default}" });
      return "";
    }
    const parsed = NAME_AND_DEFAULT.exec(inner);
    if (parsed === null) {
      failed = true;
      state.issues.push({ path, message: "malformed ${...} reference: use ${NAME} or ${NAME:-default}" });
      return "";
    }
    const name = parsed[1];
    const fallback = parsed[2];
    const value = state.env[name];
    if (fallback !== undefined && (value === undefined || value === "")) return fallback;
    if (value === undefined) {
      failed = true;
      state.issues.push({
        path,
        message: `environment variable ${name} is not set (set it, or give a default with \${${name}:-default})`,
      });
      return "";
    }
    if (value !== "") state.envValues.add(value);
    return value;
  });
  if (failed) state.failedPaths.push(path);
  return output;
}

function walk(value: unknown, path: string, state: WalkState): unknown {
  if (typeof value === "string") return value.includes("${") ? interpolateString(value, path, state) : value;
  if (Array.isArray(value)) return value.map((item: unknown, index: number) => walk(item, joinPath(path, index), state));
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a YAML key named `__proto__` must stay a plain key.
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, { value: walk(item, joinPath(path, key), state), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Returns a copy of `value` with every reference in its string values replaced. */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const state: WalkState = { env, issues: [], envValues: new Set(), failedPaths: [] };
  const out = walk(value, "", state);
  return { value: out, issues: state.issues, envValues: [...state.envValues], failedPaths: state.failedPaths };
}
