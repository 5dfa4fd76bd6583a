/**
 * Mail templates (SPEC 8): built-in text + HTML bodies for each template name, overridable per
 * project. Overrides arrive as file *contents* whose variables the config loader already checked.
 *
 * Built-in bodies are embedded at build time (text imports), so the compiled binary never reads
 * its own assets from disk.
 */
import type { ProjectConfig, TemplateName } from "../config/types.ts";
import { fillTemplate, SUBJECT_VARIABLES, templateVariableNames, USER_VARIABLE_PREFIX } from "../config/template-grammar.ts";
import verifyEmailText from "./templates/verify-email.txt" with { type: "text" };
import verifyEmailHtml from "./templates/verify-email.html" with { type: "text" };
import resetPasswordText from "./templates/reset-password.txt" with { type: "text" };
import resetPasswordHtml from "./templates/reset-password.html" with { type: "text" };
import passwordChangedText from "./templates/password-changed.txt" with { type: "text" };
import passwordChangedHtml from "./templates/password-changed.html" with { type: "text" };
import emailChangeConfirmText from "./templates/email-change-confirm.txt" with { type: "text" };
import emailChangeConfirmHtml from "./templates/email-change-confirm.html" with { type: "text" };
import emailChangeNoticeText from "./templates/email-change-notice.txt" with { type: "text" };
import emailChangeNoticeHtml from "./templates/email-change-notice.html" with { type: "text" };
import accountDeletedText from "./templates/account-deleted.txt" with { type: "text" };
import accountDeletedHtml from "./templates/account-deleted.html" with { type: "text" };

export interface MailTemplate {
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

/**
 * bun-types declares `*.html` imports as HTML bundles (for Bun.serve); with `type: "text"` Bun
 * hands us the file's text, which this checks once at startup.
 */
function embedded(value: unknown): string {
  if (typeof value !== "string") throw new Error("a built-in mail template was not embedded as text");
  return value;
}

export const BUILTIN_TEMPLATES: Readonly<Record<TemplateName, MailTemplate>> = {
  verify_email: { subject: "Confirm your email for {{project_name}}", text: verifyEmailText, html: embedded(verifyEmailHtml) },
  reset_password: { subject: "Reset your {{project_name}} password", text: resetPasswordText, html: embedded(resetPasswordHtml) },
  password_changed: {
    subject: "Your {{project_name}} password was changed",
    text: passwordChangedText,
    html: embedded(passwordChangedHtml),
  },
  email_change_confirm: {
    subject: "Confirm your new email for {{project_name}}",
    text: emailChangeConfirmText,
    html: embedded(emailChangeConfirmHtml),
  },
  email_change_notice: {
    subject: "A change of your {{project_name}} email was requested",
    text: emailChangeNoticeText,
    html: embedded(emailChangeNoticeHtml),
  },
  account_deleted: { subject: "Your {{project_name}} account was deleted", text: accountDeletedText, html: embedded(accountDeletedHtml) },
};

/**
 * Variables allowed in a subject. A subject is a mail header, and no user-supplied value may ever
 * reach a header: `email`, `link` and `user.*` render as empty text there.
 */
const SUBJECT_ONLY: ReadonlySet<string> = new Set(SUBJECT_VARIABLES);

/** Template variables by name (`project_name`, `link`, `user.display_name`, ...). Missing = empty. */
export type TemplateVariables = Readonly<Record<string, string>>;

/** The template in force for a project: each part of an override replaces the built-in part. */
export function templateFor(config: ProjectConfig, name: TemplateName): MailTemplate {
  const builtin = BUILTIN_TEMPLATES[name];
  const override = config.mail.templates[name];
  return {
    subject: override?.subject ?? builtin.subject,
    text: override?.text ?? builtin.text,
    html: override?.html ?? builtin.html,
  };
}

/** Names of the `user.<column>` variables a template uses (only those are captured at enqueue). */
export function userColumnsUsed(template: MailTemplate): string[] {
  const cols = new Set<string>();
  for (const part of [template.subject, template.text, template.html ?? ""]) {
    for (const name of templateVariableNames(part)) if (name.startsWith(USER_VARIABLE_PREFIX)) cols.add(name.slice(USER_VARIABLE_PREFIX.length));
  }
  return [...cols];
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Fills a template through the one grammar (src/config/template-grammar.ts) the loader checked it with. */
function fill(template: string, vars: TemplateVariables, encode: (v: string) => string, allowed?: ReadonlySet<string>): string {
  return fillTemplate(template, (name) => {
    if (allowed && !allowed.has(name)) return "";
    return encode(Object.hasOwn(vars, name) ? (vars[name] ?? "") : "");
  });
}

/** Renders subject, text and HTML. Values are HTML-escaped in the HTML body only. */
export function renderTemplate(template: MailTemplate, vars: TemplateVariables): MailTemplate {
  // Belt and braces: the subject template and project name are validated single-line at load.
  const subject = fill(template.subject, vars, (v) => v, SUBJECT_ONLY).replace(/[\s\x00-\x1f\x7f]+/g, " ").trim();
  return {
    subject,
    text: fill(template.text, vars, (v) => v),
    html: template.html === undefined ? undefined : fill(template.html, vars, escapeHtml),
  };
}

/** `1 hour`, `24 hours`, `30 minutes`: how a TTL reads in a message. */
export function formatDuration(seconds: number): string {
  const unit = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (seconds >= 86_400 && seconds % 86_400 === 0) return unit(seconds / 86_400, "day");
  if (seconds >= 3_600 && seconds % 3_600 === 0) return unit(seconds / 3_600, "hour");
  if (seconds >= 60 && seconds % 60 === 0) return unit(seconds / 60, "minute");
  if (seconds >= 3_600) return unit(Math.round(seconds / 3_600), "hour");
  if (seconds >= 60) return unit(Math.round(seconds / 60), "minute");
  return unit(seconds, "second");
}
