/**
 * The config pipeline: read -> interpolate -> parse with defaults -> resolve plugins -> freeze.
 * No other module reads project files or the environment; they receive the frozen ProjectConfigs.
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as v from "valibot";
import type { PluginRegistry } from "../../plugins/index.ts";
import { buildProject } from "./build-project.ts";
import { deepFreeze } from "./freeze.ts";
import { redactMessage } from "./issues.ts";
import type { PathIssue } from "./issues.ts";
import { PROJECT_ID_PATTERN } from "./names.ts";
import { readProjectFile } from "./read-project-file.ts";
import type { ConfigIssue, ProjectConfig } from "./types.ts";

export { formatConfigIssue } from "./issues.ts";

export interface LoadResult {
  projects: ProjectConfig[];
  issues: ConfigIssue[];
  /** Only with `envOptional`: unset variables, and what could not be checked without them. */
  warnings: ConfigIssue[];
}

export interface LoadOptions {
  readonly env: Record<string, string | undefined>;
  readonly registry: PluginRegistry;
  /**
   * `latchkey check --env-optional`: an unset `${VAR}` is a warning, not an error, so a CI job
   * without the production secrets still checks everything else. The value is left out of the
   * file for the rest of the checks (as if the key were not written). Never used by `serve`.
   */
  readonly envOptional?: boolean;
}

function acceptAnyOptions(registry: PluginRegistry): PluginRegistry {
  const lenient = <F extends { readonly optionsSchema: unknown }>(factories: Readonly<Record<string, F>>): Record<string, F> =>
    Object.fromEntries(Object.entries(factories).map(([id, f]) => [id, { ...f, optionsSchema: v.unknown() }]));
  return { hashers: lenient(registry.hashers), mailProviders: lenient(registry.mailProviders) };
}

const UNSET_VARIABLE = /^environment variable \S+ is not set/;

/** A copy of `raw` without the values at `paths` (dotted key paths of failed interpolations). */
function withoutPaths(raw: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const copy = structuredClone(raw);
  // Last first, so removing an item of a list does not shift the items still to be removed.
  for (const path of [...paths].reverse()) {
    const segments = path.split(".");
    let node: unknown = copy;
    for (const segment of segments.slice(0, -1)) {
      node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[segment] : undefined;
    }
    const lastKey = segments[segments.length - 1];
    if (Array.isArray(node)) node.splice(Number(lastKey), 1);
    else if (node !== null && typeof node === "object") delete (node as Record<string, unknown>)[lastKey];
  }
  return copy;
}

const PROJECT_FILE = /\.ya?ml$/;

interface ProjectFile {
  /** As shown in messages: the path as given, or joined onto the directory given. */
  readonly display: string;
  readonly absolute: string;
}

/** Expands the given paths: a file is one project, a directory is every *.yaml / *.yml in it. */
function listProjectFiles(paths: readonly string[], issues: ConfigIssue[]): ProjectFile[] {
  const files: ProjectFile[] = [];
  const seen = new Set<string>();
  const add = (display: string): void => {
    const absolute = resolve(display);
    let key = absolute;
    try {
      key = realpathSync(absolute);
    } catch {
      // Reported when the file is read.
    }
    if (seen.has(key)) return;
    seen.add(key);
    files.push({ display, absolute });
  };
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      issues.push({ file: path, path: "", message: "no such file or directory" });
      continue;
    }
    if (!isDirectory) {
      add(path);
      continue;
    }
    // Sorted for a stable load order; dotfiles (editor and OS litter such as ._x.yaml) are skipped.
    const entries = readdirSync(path, { withFileTypes: true })
      .filter((e): boolean => PROJECT_FILE.test(e.name) && !e.name.startsWith(".") && (e.isFile() || e.isSymbolicLink()))
      .map((e): string => e.name)
      .sort();
    if (entries.length === 0) issues.push({ file: path, path: "", message: "no *.yaml or *.yml project files in this directory (`latchkey init DIR` writes a starter one)" });
    for (const name of entries) add(join(path, name));
  }
  return files;
}

/** String leaves of a value: secrets to keep out of messages. */
function stringLeaves(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const item of value) stringLeaves(item, out);
  else if (value !== null && typeof value === "object") for (const item of Object.values(value)) stringLeaves(item, out);
}

function secretValues(raw: Record<string, unknown> | undefined, envValues: readonly string[]): string[] {
  const secrets = [...envValues];
  if (raw === undefined) return secrets;
  const pick = (value: unknown, key: string): unknown =>
    value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
  stringLeaves(raw.keys, secrets);
  stringLeaves(pick(raw.mail, "options"), secrets);
  stringLeaves(pick(pick(raw.auth, "hasher"), "options"), secrets);
  // Longest first, so a secret that contains another is redacted whole.
  return secrets.sort((a: string, b: string): number => b.length - a.length);
}

function isUnder(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}.`);
}

/**
 * Loads every project file under `paths`. Collects all issues (every file is checked even when an
 * earlier one failed); a project with any issue is left out of `projects`.
 */
export function loadProjects(paths: readonly string[], opts: LoadOptions): LoadResult {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const projects: ProjectConfig[] = [];
  const idOwners = new Map<string, string>();

  for (const file of listProjectFiles(paths, issues)) {
    const read = readProjectFile(file.absolute, opts.env);
    let fileIssues: PathIssue[] = [...read.issues];
    const fileWarnings: PathIssue[] = [];
    if (opts.envOptional) {
      fileWarnings.push(...fileIssues.filter((i: PathIssue): boolean => UNSET_VARIABLE.test(i.message)));
      fileIssues = fileIssues.filter((i: PathIssue): boolean => !UNSET_VARIABLE.test(i.message));
    }
    let project: ProjectConfig | undefined;
    if (read.raw !== undefined) {
      const ctx = { filePath: file.absolute, baseDir: dirname(file.absolute), registry: opts.registry };
      let built = buildProject(read.raw, ctx);
      // A value that failed to interpolate was replaced by "": its own issue says why, the
      // validation noise about the empty value would only mislead.
      const noise = (i: PathIssue): boolean => read.failedPaths.some((failed: string): boolean => isUnder(i.path, failed));
      const real = built.issues.filter((i: PathIssue): boolean => !noise(i));
      if (opts.envOptional && fileWarnings.length > 0 && real.length === 0 && fileIssues.length === 0 && built.project === undefined) {
        // Built once more with the unset values left out, only so the plan can still be shown:
        // everything else was checked above, and plugin options that needed a missing value
        // (an SMTP URL) are taken as they are, since no plugin is started by `check`.
        const again = buildProject(withoutPaths(read.raw, read.failedPaths), { ...ctx, registry: acceptAnyOptions(opts.registry) });
        if (again.project === undefined) {
          const first = again.issues[0];
          fileWarnings.push({
            path: first?.path ?? "",
            message: `not checked completely without the unset variables (${first?.message ?? "incomplete"}); the schema plan is not shown`,
          });
        }
        built = again.project === undefined ? built : again;
        fileIssues = [...fileIssues, ...real];
        project = built.project;
      } else {
        fileIssues = [...fileIssues, ...real];
        project = built.project;
      }
    }
    const secrets = secretValues(read.raw, read.envValues);
    const attach = (issue: PathIssue): ConfigIssue => {
      const pos = issue.line === undefined ? read.locate(issue.path) : { line: issue.line, column: issue.column ?? 1 };
      return { file: file.display, path: issue.path, message: redactMessage(issue.message, secrets), ...(pos ?? {}) };
    };
    for (const issue of fileIssues) issues.push(attach(issue));
    for (const warning of fileWarnings) warnings.push(attach(warning));
    // Duplicates are checked on the declared id, valid project or not, so both files get named.
    const declaredId = read.raw?.id;
    if (typeof declaredId === "string" && PROJECT_ID_PATTERN.test(declaredId)) {
      const owner = idOwners.get(declaredId);
      if (owner !== undefined) {
        issues.push({ file: file.display, path: "id", message: `duplicate project id "${declaredId}": also declared in ${owner}`, ...(read.locate("id") ?? {}) });
        continue;
      }
      idOwners.set(declaredId, file.display);
    }
    if (project === undefined || fileIssues.length > 0) continue;
    projects.push(deepFreeze(project));
  }
  return { projects, issues, warnings };
}
