/**
 * Parse with defaults -> resolve plugins: turns one interpolated project file into a ProjectConfig,
 * or into the complete list of what is wrong with it. Every check runs on whatever sections parsed,
 * so one mistake does not hide the others.
 */
import type { PluginRegistry } from "../../plugins/index.ts";
import type { PathIssue } from "./issues.ts";
import { defaultMailFrom } from "./mail-address.ts";
import { validateRedirectUrl } from "./origins.ts";
import { DEFAULT_HASHER_ID, DEFAULT_MAIL_PROVIDER_ID, parseProjectSections } from "./project-schema.ts";
import type { AuthSection, MailSection, ProjectSections } from "./project-schema.ts";
import { resolvePluginChoice } from "./resolve-plugins.ts";
import { buildSigning, checkTokenClaims } from "./signing-config.ts";
import { parseTables } from "./tables.ts";
import type { TablesResult } from "./tables.ts";
import { loadTemplates } from "./templates.ts";
import type { TemplateUserColumns } from "./templates.ts";
import type { AuthConfig, MailConfig, ProjectConfig, RateLimitName, RateLimitRule } from "./types.ts";
import { RATE_LIMIT_NAMES } from "./types.ts";

export interface BuildResult {
  readonly project?: ProjectConfig;
  readonly issues: readonly PathIssue[];
}

function buildAuth(auth: AuthSection, sections: ProjectSections, sectionFailed: (name: string) => boolean, registry: PluginRegistry, issues: PathIssue[]): AuthConfig | undefined {
  let verifyRedirectUrl: string | null = null;
  if (auth.verify_redirect_url !== null && !sectionFailed("allowed_redirect_origins")) {
    const checked = validateRedirectUrl(auth.verify_redirect_url, sections.allowed_redirect_origins ?? []);
    if (checked.ok) {
      verifyRedirectUrl = checked.url;
    } else {
      issues.push({
        path: "auth.verify_redirect_url",
        message: "must be an absolute https URL (or http for a listed localhost origin) whose origin is in allowed_redirect_origins",
      });
    }
  }
  const hasher = resolvePluginChoice({
    kind: "hasher",
    id: auth.hasher.algorithm,
    options: auth.hasher.options,
    idPath: "auth.hasher.algorithm",
    optionsPath: "auth.hasher.options",
  }, registry);
  issues.push(...hasher.issues);
  const signing = buildSigning(auth, issues);
  if (hasher.choice === undefined || signing === undefined) return undefined;

  const rateLimits = {} as Record<RateLimitName, RateLimitRule | null>;
  for (const name of RATE_LIMIT_NAMES) {
    const rule = auth.rate_limits[name];
    rateLimits[name] = rule === null ? null : { max: rule.max, windowSeconds: rule.window };
  }
  return {
    accessTokenTtlSeconds: auth.access_token_ttl,
    refreshTokenTtlSeconds: auth.refresh_token_ttl,
    refreshReuseGraceSeconds: auth.refresh_reuse_grace,
    resetTokenTtlSeconds: auth.reset_token_ttl,
    verifyTokenTtlSeconds: auth.verify_token_ttl,
    requireVerifiedEmail: auth.require_verified_email,
    revokeSessionsOnPasswordChange: auth.revoke_sessions_on_password_change,
    revokeSessionsOnPasswordReset: auth.revoke_sessions_on_password_reset,
    sessionMaxAgeSeconds: auth.session_max_age,
    verifyRedirectUrl,
    requirePublicKey: auth.require_public_key,
    password: {
      minLength: auth.password.min_length,
      maxLength: auth.password.max_length,
      rejectCommon: auth.password.reject_common,
    },
    hasher: hasher.choice,
    rateLimits,
    signing,
    tokenClaims: auth.token_claims,
  };
}

function templateUserColumns(tables: TablesResult): TemplateUserColumns | null {
  const authTable = tables.tables.find((t): boolean => t.name === tables.authTableName);
  if (authTable === undefined) return null;
  return {
    visible: authTable.columns.filter((c): boolean => !c.hidden).map((c): string => c.name),
    hidden: authTable.columns.filter((c): boolean => c.hidden).map((c): string => c.name),
  };
}

function buildMail(mail: MailSection, projectName: string, ctx: { baseDir: string; tables: TablesResult | undefined; registry: PluginRegistry }, issues: PathIssue[]): MailConfig | undefined {
  const provider = resolvePluginChoice({
    kind: "mail",
    id: mail.provider,
    options: mail.options,
    idPath: "mail.provider",
    optionsPath: "mail.options",
  }, ctx.registry);
  issues.push(...provider.issues);
  const templates = loadTemplates(mail.templates, {
    baseDir: ctx.baseDir,
    // When the tables did not parse, user.<column> cannot be checked; the table issues explain why.
    userColumns: ctx.tables === undefined || ctx.tables.issues.length > 0 ? "unchecked" : templateUserColumns(ctx.tables),
  });
  issues.push(...templates.issues);
  if (provider.choice === undefined || templates.issues.length > 0) return undefined;
  return {
    provider: provider.choice,
    from: mail.from?.trim() ?? defaultMailFrom(projectName),
    templates: templates.templates,
  };
}

function pick(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * When a section failed for some other reason, its plugin options are still checked from the raw
 * file, so the user sees those problems in the same run. Skipped when the plugin keys themselves
 * are what failed (their issues are already reported).
 */
function checkPluginsOfFailedSections(raw: Record<string, unknown>, sections: ProjectSections, failed: (path: string) => boolean, registry: PluginRegistry, issues: PathIssue[]): void {
  const hasher = pick(raw.auth, "hasher");
  const algorithm = pick(hasher, "algorithm") ?? DEFAULT_HASHER_ID;
  if (sections.auth === undefined && !failed("auth.hasher") && typeof algorithm === "string") {
    issues.push(...resolvePluginChoice({
      kind: "hasher", id: algorithm, options: pick(hasher, "options"), idPath: "auth.hasher.algorithm", optionsPath: "auth.hasher.options",
    }, registry).issues);
  }
  const provider = pick(raw.mail, "provider") ?? DEFAULT_MAIL_PROVIDER_ID;
  if (sections.mail === undefined && !failed("mail.provider") && !failed("mail.options") && typeof provider === "string") {
    issues.push(...resolvePluginChoice({
      kind: "mail", id: provider, options: pick(raw.mail, "options"), idPath: "mail.provider", optionsPath: "mail.options",
    }, registry).issues);
  }
}

/** Validates one interpolated project file and resolves its plugins. */
export function buildProject(raw: Record<string, unknown>, ctx: { readonly filePath: string; readonly baseDir: string; readonly registry: PluginRegistry }): BuildResult {
  const parsed = parseProjectSections(raw);
  const issues: PathIssue[] = [...parsed.issues];
  const { sections } = parsed;
  const sectionFailed = (name: string): boolean =>
    parsed.issues.some((i: PathIssue): boolean => i.path === name || i.path.startsWith(`${name}.`));

  const tables = sections.tables === undefined ? undefined : parseTables(sections.tables);
  if (tables !== undefined) issues.push(...tables.issues);
  const auth = sections.auth === undefined ? undefined : buildAuth(sections.auth, sections, sectionFailed, ctx.registry, issues);
  if (sections.auth !== undefined) checkTokenClaims(sections.auth.token_claims, tables === undefined || tables.issues.length > 0 ? null : tables, issues);
  const name = sections.name ?? sections.id ?? "";
  const mail = sections.mail === undefined ? undefined : buildMail(sections.mail, name, { baseDir: ctx.baseDir, tables, registry: ctx.registry }, issues);
  checkPluginsOfFailedSections(raw, sections, sectionFailed, ctx.registry, issues);

  if (issues.length > 0) return { issues };
  if (sections.id === undefined || sections.keys === undefined || sections.cors === undefined || sections.confirm_destructive === undefined
    || tables === undefined || auth === undefined || mail === undefined) {
    return { issues: [{ path: "", message: "the project file could not be read completely" }] };
  }
  const keys: { admin?: string; public?: string } = {};
  if (sections.keys.admin !== undefined) keys.admin = sections.keys.admin;
  if (sections.keys.public !== undefined) keys.public = sections.keys.public;
  const project: ProjectConfig = {
    id: sections.id,
    name: sections.name ?? sections.id,
    filePath: ctx.filePath,
    keys,
    ...(sections.allowed_redirect_origins === undefined ? {} : { allowedRedirectOrigins: sections.allowed_redirect_origins }),
    tables: tables.tables,
    authTableName: tables.authTableName,
    auth,
    mail,
    cors: { allowedOrigins: sections.cors.allowed_origins },
    confirmDestructive: sections.confirm_destructive,
    audit: { retentionSeconds: sections.audit?.retention ?? 90 * 86_400 },
  };
  return { project, issues: [] };
}
