/**
 * `mail.templates`: per-project overrides of the built-in emails. Files are read here, relative to
 * the project file, so the mailer never touches the file system; every `{{variable}}` is checked
 * at load, because a typo in a template would otherwise only show up in a user's inbox.
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { joinPath } from "./issues.ts";
import type { PathIssue } from "./issues.ts";
import { printable } from "./names.ts";
import type { MailSection } from "./project-schema.ts";
import type { TemplateName, TemplateOverride } from "./types.ts";
import { TEMPLATE_NAMES, TEMPLATE_VARIABLES } from "./types.ts";
import { hasUnclosedTag, SUBJECT_VARIABLES, templateVariableNames, USER_VARIABLE_PREFIX } from "./template-grammar.ts";

const MAX_TEMPLATE_BYTES = 256 * 1024;

/** Columns of the auth table, for `user.<column>`. */
export interface TemplateUserColumns {
  readonly visible: readonly string[];
  readonly hidden: readonly string[];
}

/** `null`: the project has no auth table; "unchecked": its columns are unknown (the tables have errors). */
export type UserColumnsForTemplates = TemplateUserColumns | null | "unchecked";

/**
 * Checks a subject: only SUBJECT_VARIABLES (no user value goes into a mail header, SPEC 8), so
 * `email` and `user.<column>` are refused there at load.
 */
export function checkSubjectVariables(subject: string, path: string, issues: PathIssue[]): void {
  for (const name of templateVariableNames(subject)) {
    if ((SUBJECT_VARIABLES as readonly string[]).includes(name)) continue;
    issues.push({
      path,
      message: `{{${printable(name)}}} cannot be used in a subject: no user value goes into a mail header (available: ${SUBJECT_VARIABLES.join(", ")})`,
    });
  }
  if (hasUnclosedTag(subject)) issues.push({ path, message: "unclosed {{ in template (write {{name}})" });
}

/** Checks a text or HTML body: the variables of SPEC 8 and `user.<column>` for a non-hidden column. */
export function checkVariables(template: string, columns: UserColumnsForTemplates, path: string, issues: PathIssue[]): void {
  const known = new Set<string>(TEMPLATE_VARIABLES);
  for (const name of templateVariableNames(template)) {
    if (known.has(name)) continue;
    if (columns === "unchecked" && name.startsWith(USER_VARIABLE_PREFIX)) continue;
    if (name.startsWith(USER_VARIABLE_PREFIX) && columns !== "unchecked") {
      const column = name.slice(USER_VARIABLE_PREFIX.length);
      if (columns !== null && columns.visible.includes(column)) continue;
      if (columns !== null && columns.hidden.includes(column)) {
        issues.push({ path, message: `{{${name}}} names a hidden column, which never leaves the server` });
        continue;
      }
    }
    const userHint = columns === null ? "" : ", user.<column> for a non-hidden column of the auth table";
    issues.push({ path, message: `unknown template variable {{${printable(name)}}} (available: ${TEMPLATE_VARIABLES.join(", ")}${userHint})` });
  }
  if (hasUnclosedTag(template)) issues.push({ path, message: "unclosed {{ in template (write {{name}})" });
}

function readTemplateFile(relativePath: string, baseDir: string, path: string, issues: PathIssue[]): string | undefined {
  const file = isAbsolute(relativePath) ? relativePath : resolve(baseDir, relativePath);
  try {
    const stats = statSync(file);
    if (!stats.isFile()) {
      issues.push({ path, message: `template file "${printable(relativePath)}" is not a regular file` });
      return undefined;
    }
    if (stats.size > MAX_TEMPLATE_BYTES) {
      issues.push({ path, message: `template file "${printable(relativePath)}" is larger than 256 KiB` });
      return undefined;
    }
    return readFileSync(file, "utf8");
  } catch (error: unknown) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "";
    const reason = code === "ENOENT" ? "not found" : "cannot be read";
    issues.push({ path, message: `template file "${printable(relativePath)}" ${reason} (paths are relative to the project file)` });
    return undefined;
  }
}

/** Reads the template files and checks every variable. `userColumns` is null without an auth table. */
export function loadTemplates(
  templates: MailSection["templates"],
  opts: { readonly baseDir: string; readonly userColumns: UserColumnsForTemplates },
): { templates: Partial<Record<TemplateName, TemplateOverride>>; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const out: Partial<Record<TemplateName, TemplateOverride>> = {};
  for (const name of TEMPLATE_NAMES) {
    const declared = templates[name];
    if (declared === undefined) continue;
    const base = joinPath("mail.templates", name);
    const override: { subject?: string; text?: string; html?: string } = {};
    if (declared.subject !== undefined) {
      checkSubjectVariables(declared.subject, joinPath(base, "subject"), issues);
      override.subject = declared.subject;
    }
    for (const part of ["text", "html"] as const) {
      const file = declared[part];
      if (file === undefined) continue;
      const path = joinPath(base, part);
      const content = readTemplateFile(file, opts.baseDir, path, issues);
      if (content === undefined) continue;
      checkVariables(content, opts.userColumns, path, issues);
      override[part] = content;
    }
    out[name] = override;
  }
  return { templates: out, issues };
}
