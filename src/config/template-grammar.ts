/**
 * The one grammar of mail templates (SPEC 8), shared by the config loader, which checks every
 * variable at load, and the mailer, which renders at send time. Both read a template through
 * `tokenizeTemplate`, so a template that validates renders exactly as it was checked.
 *
 * Grammar: a tag is `{{`, any text without `{` or `}`, then `}}`; its variable name is that text
 * with surrounding whitespace removed (`{{ user.display_name }}` names `user.display_name`).
 * Everything else is literal text. A `{{` left outside a tag is an unclosed tag (refused at load).
 */

/** One tag. The only pattern in the code base that recognizes a template variable. */
const TAG = /\{\{([^{}]*)\}\}/g;

/** Prefix of the variables that name a column of the auth table (`user.<column>`). */
export const USER_VARIABLE_PREFIX = "user.";

/**
 * Variables a subject may use. A subject is a mail header, and no user-supplied value ever goes
 * into a header (SPEC 8): the loader refuses any other variable there, and the renderer renders
 * any other one as empty text.
 */
export const SUBJECT_VARIABLES = ["project_name", "expires_in", "app_url"] as const;

export type TemplateToken =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "variable"; readonly name: string };

/** Splits a template into literal text and variables, in order. */
export function tokenizeTemplate(template: string): TemplateToken[] {
  const tokens: TemplateToken[] = [];
  let at = 0;
  for (const m of template.matchAll(TAG)) {
    const start = m.index ?? 0;
    if (start > at) tokens.push({ kind: "text", text: template.slice(at, start) });
    tokens.push({ kind: "variable", name: m[1].trim() });
    at = start + m[0].length;
  }
  if (at < template.length) tokens.push({ kind: "text", text: template.slice(at) });
  return tokens;
}

/** The names of every variable of a template, in order of appearance (repeats included). */
export function templateVariableNames(template: string): string[] {
  return tokenizeTemplate(template).flatMap((t) => (t.kind === "variable" ? [t.name] : []));
}

/** True when the literal text, tags taken out, still holds `{{`: a tag never closed (or holding a brace). */
export function hasUnclosedTag(template: string): boolean {
  return tokenizeTemplate(template).map((t) => (t.kind === "text" ? t.text : "")).join("").includes("{{");
}

/** Replaces every variable with `valueOf(name)`; literal text is kept as it is. */
export function fillTemplate(template: string, valueOf: (name: string) => string): string {
  return tokenizeTemplate(template).map((t) => (t.kind === "text" ? t.text : valueOf(t.name))).join("");
}
