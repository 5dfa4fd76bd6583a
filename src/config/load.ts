/**
 * The config pipeline: read -> interpolate -> parse with defaults -> resolve plugins -> freeze.
 * No other module reads project files or the environment; they receive the frozen ProjectConfigs.
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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
}

export interface LoadOptions {
  readonly env: Record<string, string | undefined>;
  readonly registry: PluginRegistry;
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
    if (entries.length === 0) issues.push({ file: path, path: "", message: "no *.yaml or *.yml project files in this directory" });
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
  const projects: ProjectConfig[] = [];
  const idOwners = new Map<string, string>();

  for (const file of listProjectFiles(paths, issues)) {
    const read = readProjectFile(file.absolute, opts.env);
    let fileIssues: PathIssue[] = [...read.issues];
    let project: ProjectConfig | undefined;
    if (read.raw !== undefined) {
      const built = buildProject(read.raw, { filePath: file.absolute, baseDir: dirname(file.absolute), registry: opts.registry });
      // A value that failed to interpolate was replaced by "": its own issue says why, the
      // validation noise about the empty value would only mislead.
      const noise = (i: PathIssue): boolean => read.failedPaths.some((failed: string): boolean => isUnder(i.path, failed));
      fileIssues = [...fileIssues, ...built.issues.filter((i: PathIssue): boolean => !noise(i))];
      project = built.project;
    }
    const secrets = secretValues(read.raw, read.envValues);
    for (const issue of fileIssues) {
      issues.push({ file: file.display, path: issue.path, message: redactMessage(issue.message, secrets) });
    }
    // Duplicates are checked on the declared id, valid project or not, so both files get named.
    const declaredId = read.raw?.id;
    if (typeof declaredId === "string" && PROJECT_ID_PATTERN.test(declaredId)) {
      const owner = idOwners.get(declaredId);
      if (owner !== undefined) {
        issues.push({ file: file.display, path: "id", message: `duplicate project id "${declaredId}": also declared in ${owner}` });
        continue;
      }
      idOwners.set(declaredId, file.display);
    }
    if (project === undefined || fileIssues.length > 0) continue;
    projects.push(deepFreeze(project));
  }
  return { projects, issues };
}
