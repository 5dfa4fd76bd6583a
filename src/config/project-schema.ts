/**
 * The valibot schema of a project file (SPEC 2), after `${ENV}` interpolation. Every map is strict:
 * an unknown key is an error, because a typo (`auth_tabel`) must not pass silently. Defaults of
 * SPEC 2 and 9.5 are filled in here. Checks that need more than one section (refs between tables,
 * verify_redirect_url against the allow-list, plugin options, template variables) run afterwards.
 *
 * The top level is parsed section by section so that a mistake in one section does not hide the
 * problems of the others.
 */
import * as v from "valibot";
import type { BaseIssue, InferOutput, StrictObjectIssue } from "valibot";
import { COLUMN_SPEC_SCHEMA } from "./column-spec-schema.ts";
import { DURATION_PATTERN, MAX_DURATION_SECONDS, parseDurationSeconds } from "./duration.ts";
import { VALIBOT_CONFIG, toPathIssues, describeKind } from "./issues.ts";
import type { PathIssue } from "./issues.ts";
import { checkMailFrom } from "./mail-address.ts";
import { PROJECT_ID_PATTERN, printable } from "./names.ts";
import { normalizeCorsOrigin, normalizeOriginEntry } from "./origins.ts";
import type { OriginEntryResult } from "./origins.ts";
import { didYouMean } from "./suggest.ts";
import { SIGNING_ALGORITHMS } from "./types.ts";

export const DEFAULT_HASHER_ID = "argon2id";
export const DEFAULT_MAIL_PROVIDER_ID = "console";

/** A destructive plan's id, as `latchkey check` prints it (see src/storage/schema/plan-id.ts). */
export const PLAN_ID_PATTERN = /^[0-9a-f]{12}$/;
const NOT_A_PLAN_ID = "expected true or false, got a string that is not a plan id (the 12 hex characters `latchkey check` prints)";
const NO_CONTROL_CHARACTERS = /^[^\x00-\x1f\x7f]*$/;

function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function unknownKeyMessage(key: string, allowed: readonly string[], others: readonly string[]): string {
  const also = others.length > 0 ? `; also unknown: ${others.map((k: string): string => `"${printable(k)}"`).join(", ")}` : "";
  return `unknown key "${printable(key)}"${didYouMean(key, allowed)} (allowed: ${allowed.join(", ")})${also}`;
}

/** A strict map: not a list, no unknown keys (all of them named in the message). */
function strictMap<const E extends v.ObjectEntries>(entries: E, what = "a map") {
  const allowed = Object.keys(entries);
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainMap, (issue: BaseIssue<unknown>): string => `expected ${what}, got ${describeKind(issue.input)}`),
    v.strictObject(entries, (issue: StrictObjectIssue): string => {
      if (issue.expected === "never" && typeof issue.input === "string") {
        const container = issue.path?.[0]?.input;
        const others = isPlainMap(container)
          ? Object.keys(container).filter((k: string): boolean => !allowed.includes(k) && k !== issue.input)
          : [];
        return unknownKeyMessage(issue.input, allowed, others);
      }
      return "is required";
    }),
  );
}

/** A map with free-form keys (tables, columns). */
function mapOf<S extends v.GenericSchema>(value: S) {
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainMap, (issue: BaseIssue<unknown>): string => `expected a map, got ${describeKind(issue.input)}`),
    v.record(v.string(), value),
  );
}

function duration(opts: { readonly minSeconds: number }) {
  return v.pipe(
    v.unknown(),
    // What the JSON Schema (`latchkey schema`) says about this value; the transform below decides.
    v.metadata({
      anyOf: [
        { type: "string", pattern: DURATION_PATTERN.source },
        { type: "integer", minimum: opts.minSeconds, maximum: MAX_DURATION_SECONDS },
      ],
    }),
    v.rawTransform<unknown, number>(({ dataset, addIssue, NEVER }): number => {
      const parsed = parseDurationSeconds(dataset.value);
      if (!parsed.ok) {
        addIssue({ message: parsed.reason });
        return NEVER;
      }
      if (parsed.seconds < opts.minSeconds) {
        addIssue({ message: `must be at least ${opts.minSeconds}s` });
        return NEVER;
      }
      return parsed.seconds;
    }),
  );
}

function originList(normalize: (raw: string) => OriginEntryResult) {
  return v.pipe(
    v.string((issue: BaseIssue<unknown>): string => `expected an origin string, got ${describeKind(issue.input)}`),
    v.rawTransform<string, string>(({ dataset, addIssue, NEVER }): string => {
      const result = normalize(dataset.value);
      if (!result.ok) {
        addIssue({ message: `invalid origin: ${result.reason}` });
        return NEVER;
      }
      return result.origin;
    }),
  );
}

function projectKey(prefix: "sk_" | "pk_", label: string) {
  const pattern = new RegExp(`^${prefix}[A-Za-z0-9_-]{32,256}$`);
  // Never echo the key: only say what shape it must have.
  return v.pipe(
    v.string(`the ${label} key must be a string`),
    v.regex(pattern, `the ${label} key must start with ${prefix} followed by 32 to 256 characters from A-Z a-z 0-9 _ -`),
  );
}

const OFF = v.pipe(v.literal("off"), v.transform((): null => null));
const RATE_LIMIT_OBJECT = strictMap({
  max: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000_000)),
  window: duration({ minSeconds: 1 }),
}, "{ max, window } or off");
export const RATE_LIMIT_EITHER = v.union([OFF, RATE_LIMIT_OBJECT], (issue: BaseIssue<unknown>): string => `expected { max, window } or off, got ${describeKind(issue.input)}`);
// The rule is picked by the input's shape, so a map's own problems (a bad window) are reported as
// such; anything else fails against both. The JSON Schema converter asks with no input: both.
const RATE_LIMIT_RULE = v.lazy((input: unknown) => (input === "off" ? OFF : isPlainMap(input) ? RATE_LIMIT_OBJECT : RATE_LIMIT_EITHER));

function rateLimit(max: number, window: string) {
  return v.optional(RATE_LIMIT_RULE, { max, window });
}

/** SPEC 9.5 defaults. */
const RATE_LIMITS_SCHEMA = strictMap({
  login_failures_per_account: rateLimit(10, "15m"),
  login_per_ip: rateLimit(100, "15m"),
  signup_per_ip: rateLimit(20, "1h"),
  forgot_password_per_email: rateLimit(3, "1h"),
  forgot_password_per_ip: rateLimit(20, "1h"),
  resend_verification_per_user: rateLimit(3, "1h"),
  link_per_ip: rateLimit(30, "15m"),
  admin_key_failures_per_ip: rateLimit(20, "15m"),
  // Not in SPEC 9.5's list; chosen here (README "Rate limits and lockout").
  refresh_per_session: rateLimit(60, "1m"),
  resend_verification_per_ip: rateLimit(20, "1h"),
  change_email_per_user: rateLimit(3, "1h"),
});

const PASSWORD_SCHEMA = v.pipe(
  strictMap({
    min_length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(8, "must be at least 8 (shorter passwords are never allowed)")), 8),
    max_length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(1024)), 128),
    reject_common: v.optional(v.boolean(), false),
  }),
  v.forward(
    v.check((p: { min_length: number; max_length: number; reject_common: boolean }): boolean => p.max_length >= p.min_length, "must be at least min_length"),
    ["max_length"],
  ),
);

/** SPEC 13: how access tokens are signed. Cross-checks (rotate_every vs. the TTL) run in signing-config.ts. */
const SIGNING_SCHEMA = strictMap({
  algorithm: v.optional(v.picklist(SIGNING_ALGORITHMS, `must be one of ${SIGNING_ALGORITHMS.join(", ")}`), "HS256"),
  rotate_every: v.optional(v.nullable(duration({ minSeconds: 60 })), null),
});

const PLUGIN_CHOICE = (defaultId: string) => strictMap({
  algorithm: v.optional(v.string(), defaultId),
  options: v.optional(v.unknown()),
});

export const AUTH_SCHEMA = strictMap({
  access_token_ttl: v.optional(duration({ minSeconds: 1 }), "1h"),
  refresh_token_ttl: v.optional(duration({ minSeconds: 1 }), "30d"),
  refresh_reuse_grace: v.optional(duration({ minSeconds: 0 }), "10s"),
  reset_token_ttl: v.optional(duration({ minSeconds: 1 }), "1h"),
  verify_token_ttl: v.optional(duration({ minSeconds: 1 }), "24h"),
  require_verified_email: v.optional(v.boolean(), false),
  revoke_sessions_on_password_change: v.optional(v.boolean(), false),
  revoke_sessions_on_password_reset: v.optional(v.boolean(), false),
  session_max_age: v.optional(duration({ minSeconds: 60 }), "90d"),
  verify_redirect_url: v.optional(v.nullable(v.string()), null),
  require_public_key: v.optional(v.boolean(), false),
  password: v.nullish(PASSWORD_SCHEMA, {}),
  hasher: v.nullish(PLUGIN_CHOICE(DEFAULT_HASHER_ID), {}),
  rate_limits: v.nullish(RATE_LIMITS_SCHEMA, {}),
  signing: v.nullish(SIGNING_SCHEMA, {}),
  token_claims: v.nullish(v.array(v.string("a claim is the name of an auth-table column"), "must be a list of auth-table column names"), []),
});

const TEMPLATE_SCHEMA = strictMap({
  subject: v.optional(v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(998),
    v.regex(NO_CONTROL_CHARACTERS, "must be a single line (no CR, LF or control characters)"),
  )),
  text: v.optional(v.pipe(v.string(), v.minLength(1, "must be a file path"))),
  html: v.optional(v.pipe(v.string(), v.minLength(1, "must be a file path"))),
});

export const MAIL_SCHEMA = strictMap({
  provider: v.optional(v.string(), DEFAULT_MAIL_PROVIDER_ID),
  from: v.optional(v.pipe(
    v.string(),
    v.check((s: string): boolean => checkMailFrom(s) === null, (issue: BaseIssue<string>): string => checkMailFrom(issue.input) ?? "is invalid"),
  )),
  options: v.optional(v.unknown()),
  templates: v.nullish(strictMap({
    verify_email: v.optional(TEMPLATE_SCHEMA),
    reset_password: v.optional(TEMPLATE_SCHEMA),
    password_changed: v.optional(TEMPLATE_SCHEMA),
    email_change_confirm: v.optional(TEMPLATE_SCHEMA),
    email_change_notice: v.optional(TEMPLATE_SCHEMA),
    account_deleted: v.optional(TEMPLATE_SCHEMA),
  }), {}),
});

const CORS_SCHEMA = strictMap({
  allowed_origins: v.optional(v.pipe(
    v.array(originList((raw: string): OriginEntryResult => (raw === "*" ? { ok: true, origin: "*" } : normalizeCorsOrigin(raw)))),
    v.minLength(1, 'list at least one origin, or ["*"] for any'),
    v.check((list: string[]): boolean => !list.includes("*") || list.length === 1, '"*" must be the only entry when present'),
  ), ["*"]),
});

/** One table under `tables:`; its columns are read by the column DSL. */
export const TABLE_SCHEMA = v.nullish(strictMap({
  auth_table: v.optional(v.boolean(), false),
  verify_email: v.optional(v.boolean(), false),
  columns: v.nullish(mapOf(COLUMN_SPEC_SCHEMA), {}),
  unique: v.optional(v.array(v.pipe(v.array(v.string()), v.minLength(1, "a unique constraint names at least one column")))),
}), {});

export const PROJECT_SECTIONS = {
  id: v.pipe(
    v.string((issue: BaseIssue<unknown>): string => (issue.input === undefined ? "is required" : "must be a string")),
    v.regex(PROJECT_ID_PATTERN, (issue: BaseIssue<string>): string =>
      `invalid project id "${printable(issue.input)}": use ^[a-z][a-z0-9-]{1,62}$ (lowercase letters, digits and -, starting with a letter)`),
  ),
  name: v.optional(v.pipe(
    v.string(),
    v.minLength(1, "must not be empty"),
    v.maxLength(200),
    v.regex(NO_CONTROL_CHARACTERS, "must be a single line (no control characters)"),
  )),
  keys: v.nullish(strictMap({ admin: v.optional(projectKey("sk_", "admin")), public: v.optional(projectKey("pk_", "public")) }), {}),
  allowed_redirect_origins: v.optional(v.pipe(
    v.array(originList(normalizeOriginEntry), "must be a list of origins (use [] for none)"),
    v.transform((list: string[]): string[] => [...new Set(list)]),
  )),
  tables: v.nullish(mapOf(v.unknown()), {}),
  auth: v.nullish(AUTH_SCHEMA, {}),
  mail: v.nullish(MAIL_SCHEMA, {}),
  cors: v.nullish(CORS_SCHEMA, {}),
  confirm_destructive: v.optional(v.union(
    [v.boolean(), v.pipe(v.string(), v.regex(PLAN_ID_PATTERN, NOT_A_PLAN_ID))],
    (issue: BaseIssue<unknown>): string => `expected true or false, got ${describeKind(issue.input)}`,
  ), false),
  audit: v.nullish(strictMap({ retention: v.optional(duration({ minSeconds: 3600 }), "90d") }), {}),
} as const;

type Sections = typeof PROJECT_SECTIONS;
export type SectionName = keyof Sections;
/** Parsed sections; a section is absent when it had issues. */
export type ProjectSections = { readonly [K in SectionName]?: InferOutput<Sections[K]> };
export type TableSection = InferOutput<typeof TABLE_SCHEMA>;
export type AuthSection = InferOutput<typeof AUTH_SCHEMA>;
export type MailSection = InferOutput<typeof MAIL_SCHEMA>;

const SECTION_NAMES = Object.keys(PROJECT_SECTIONS) as SectionName[];

/** Parses the top-level map of a project file, section by section, collecting every issue. */
export function parseProjectSections(raw: Record<string, unknown>): { sections: ProjectSections; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const unknownKeys = Object.keys(raw).filter((k: string): boolean => !(SECTION_NAMES as string[]).includes(k));
  for (const key of unknownKeys) {
    issues.push({ path: key, message: unknownKeyMessage(key, SECTION_NAMES, []) });
  }
  const sections: Partial<Record<SectionName, unknown>> = {};
  for (const name of SECTION_NAMES) {
    const result = v.safeParse(PROJECT_SECTIONS[name], raw[name], VALIBOT_CONFIG);
    if (result.success) sections[name] = result.output;
    else issues.push(...toPathIssues(result.issues, name));
  }
  return { sections: sections as ProjectSections, issues };
}

/** Parses one table's map (everything but its columns' DSL). */
export function parseTableSection(raw: unknown, path: string): { table?: TableSection; issues: PathIssue[] } {
  const result = v.safeParse(TABLE_SCHEMA, raw, VALIBOT_CONFIG);
  if (result.success) return { table: result.output, issues: [] };
  return { issues: toPathIssues(result.issues, path) };
}

