/**
 * The frozen, fully-resolved shape of one project file. The config pipeline
 * (read -> interpolate -> parse with defaults -> resolve plugins -> freeze) produces it;
 * every other module receives it and never reads files or the environment itself.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export const COLUMN_TYPES = [
  "string", "text", "int", "float", "bool", "date", "datetime", "timestamp", "json", "enum", "ref", "uuid",
] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export type OnDelete = "cascade" | "set_null" | "restrict";

/** Marker for a default evaluated at insert time (`default now` on date/datetime/timestamp). */
export const DEFAULT_NOW = "now";

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
  readonly unique: boolean;
  /** true for `index`, and always true for refs (auto-indexed). */
  readonly index: boolean;
  /**
   * Whether a default was declared. The value is already normalized to the column's JSON type
   * (bool -> boolean, int -> integer number, json -> parsed value, date -> "YYYY-MM-DD", ...),
   * or the string DEFAULT_NOW for date/datetime/timestamp. uuid columns without a default are
   * generated at insert; that is not a declared default.
   */
  readonly hasDefault: boolean;
  readonly default?: JsonValue;
  readonly maxLength?: number; // string: defaults to 255
  readonly minLength?: number;
  readonly min?: number; // int/float/timestamp
  readonly max?: number;
  readonly values?: readonly string[]; // enum
  readonly refTable?: string; // ref
  readonly onDelete?: OnDelete; // ref; default "restrict"
  readonly readonly: boolean;
  readonly hidden: boolean;
}

export interface TableDef {
  readonly name: string;
  readonly authTable: boolean;
  readonly verifyEmail: boolean;
  /** Custom columns only, in file order. Built-in columns (id, created_at, ...) are not listed. */
  readonly columns: readonly ColumnDef[];
  /** Compound unique constraints: `unique: [[a, b], ...]` at table level. */
  readonly uniques: readonly (readonly string[])[];
}

export interface RateLimitRule {
  readonly max: number;
  readonly windowSeconds: number;
}

export const RATE_LIMIT_NAMES = [
  "login_failures_per_account",
  "login_per_ip",
  "signup_per_ip",
  "forgot_password_per_email",
  "forgot_password_per_ip",
  "resend_verification_per_user",
  "link_per_ip",
  "admin_key_failures_per_ip",
  "refresh_per_session",
  "resend_verification_per_ip",
  "change_email_per_user",
] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

export interface PasswordPolicy {
  readonly minLength: number; // never below 8
  readonly maxLength: number;
  readonly rejectCommon: boolean;
}

export interface PluginChoice {
  /** Plugin id from the registry (plugins/index.ts). */
  readonly id: string;
  /** Options already validated (and defaulted) by the plugin's own valibot schema. */
  readonly options: unknown;
}

export interface AuthConfig {
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly refreshReuseGraceSeconds: number;
  readonly resetTokenTtlSeconds: number;
  readonly verifyTokenTtlSeconds: number;
  readonly requireVerifiedEmail: boolean;
  readonly revokeSessionsOnPasswordChange: boolean;
  /** Every session ends at a reset (otherwise only those opened while the email was unverified). */
  readonly revokeSessionsOnPasswordReset: boolean;
  /** Absolute lifetime of a session from its creation, whatever its refresh chain says. */
  readonly sessionMaxAgeSeconds: number;
  /** Normalized absolute URL on an allowed origin, or null. */
  readonly verifyRedirectUrl: string | null;
  readonly requirePublicKey: boolean;
  readonly password: PasswordPolicy;
  readonly hasher: PluginChoice;
  /** null = `off`. Every name is present (defaults of SPEC 9.5 filled in). */
  readonly rateLimits: Readonly<Record<RateLimitName, RateLimitRule | null>>;
  /** SPEC 13: access-token signing. */
  readonly signing: SigningConfig;
  /** SPEC 13: auth-table columns copied into access tokens and forward-auth headers. */
  readonly tokenClaims: readonly string[];
}

export const SIGNING_ALGORITHMS = ["HS256", "EdDSA", "ES256"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface SigningConfig {
  readonly algorithm: SigningAlgorithm;
  /** Scheduled key rotation (EdDSA / ES256 only); null = only the emergency rotation. */
  readonly rotateEverySeconds: number | null;
}

export const TEMPLATE_NAMES = [
  "verify_email", "reset_password", "password_changed", "email_change_confirm", "email_change_notice", "account_deleted",
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** Variables a template may use; `user.<column>` is allowed for every non-hidden custom column of the auth table. */
export const TEMPLATE_VARIABLES = ["project_name", "link", "email", "expires_in", "app_url"] as const;

export interface TemplateOverride {
  /** Subject template (inline string). */
  readonly subject?: string;
  /** Template *contents* (the loader reads the files, relative to the project file). */
  readonly text?: string;
  readonly html?: string;
}

export interface MailConfig {
  readonly provider: PluginChoice;
  /** A single address, optionally with a display name: `Demo <no-reply@x.com>`. No CR/LF. */
  readonly from: string;
  readonly templates: Readonly<Partial<Record<TemplateName, TemplateOverride>>>;
}

export interface ProjectConfig {
  readonly id: string;
  readonly name: string; // defaults to id
  /** Absolute path of the project file; used in messages and to resolve relative paths. */
  readonly filePath: string;
  /** Pinned keys from the file (secret values: never print them). */
  readonly keys: { readonly admin?: string; readonly public?: string };
  /** Normalized origins (see SPEC 9.3) or undefined when the file does not declare the key. */
  readonly allowedRedirectOrigins?: readonly string[];
  readonly tables: readonly TableDef[];
  /** Name of the table with auth_table: true, if any. */
  readonly authTableName: string | null;
  readonly auth: AuthConfig;
  readonly mail: MailConfig;
  readonly cors: { readonly allowedOrigins: readonly string[] };
  /**
   * `confirm_destructive:` false, a plan id (applies exactly that destructive plan), or the
   * deprecated `true` (see src/storage/schema/plan.ts for what it still confirms).
   */
  readonly confirmDestructive: boolean | string;
  /** `audit.retention`: audit rows older than this are deleted by housekeeping (default 90d). */
  readonly audit: { readonly retentionSeconds: number };
}

/** A configuration problem: always names the file and the key path; never echoes a secret value. */
export interface ConfigIssue {
  readonly file: string;
  /** Dotted key path, e.g. `tables.users.columns.role`; "" for the whole file. */
  readonly path: string;
  readonly message: string;
  /** 1-based position of the key (or list item) in the file, when the YAML gives one. */
  readonly line?: number;
  readonly column?: number;
}
