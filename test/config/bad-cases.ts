/** The table of bad project files: used by the loader test and by the CLI test (exit 2 before listening). */
import { project } from "./helpers.ts";

const ADMIN_KEY_NO_PREFIX = "xx_Zq8c2VvN3mR7pLw0sT5yKb1HdJ6gFe4A";
const ADMIN_KEY_SHORT = "sk_tooShortButSecret";

export interface BadCase {
  readonly name: string;
  readonly files: Readonly<Record<string, string>>;
  readonly env?: Record<string, string>;
  /** File name the issue names (default demo.yaml). */
  readonly file?: string;
  readonly path: string;
  readonly message: string;
  /** Strings that must not appear in any message (secret values). */
  readonly secrets?: readonly string[];
  /** Exact number of issues expected (default 1): no noise on top of the real problem. */
  readonly count?: number;
  /**
   * A structural mistake (unknown key, wrong type, bad enum or pattern) that the JSON Schema of
   * `latchkey schema` must reject too, on the file as written.
   */
  readonly structural?: true;
}

const col = (line: string): { columns: string } => ({ columns: `      ${line}` });
const one = (content: string): Record<string, string> => ({ "demo.yaml": content });

export const CASES: readonly BadCase[] = [
  { name: "malformed YAML", files: one("id: demo\ntables:\n\tusers: {}\n"), path: "", message: "YAML syntax error at line 3, column 1" },
  {
    name: "a YAML error on a line holding a key (the source is not echoed)",
    files: one("id: demo\nkeys:\n  admin: sk_SecretSecretSecretSecretSecret0001: oops\n  public: [\n"),
    path: "",
    message: "YAML syntax error at line 3",
    secrets: ["SecretSecret", "oops"],
  },
  { name: "a duplicate YAML key", files: one("id: demo\nid: other\n"), path: "", message: "YAML syntax error at line 2" },
  { name: "an empty file", structural: true, files: one(""), path: "", message: "the file is empty" },
  { name: "a list at the top level", structural: true, files: one("- id: demo\n"), path: "", message: "the top level must be a map" },
  { name: "an unknown top-level key", structural: true, files: one(project("colour: red")), path: "colour", message: 'unknown key "colour"' },
  { name: "an unknown key under auth", structural: true, files: one(project("auth:\n  acess_token_ttl: 1h")), path: "auth.acess_token_ttl", message: 'did you mean "access_token_ttl"' },
  { name: "the typo auth_tabel", structural: true, files: one("id: demo\ntables:\n  users:\n    auth_tabel: true\n"), path: "tables.users.auth_tabel", message: 'did you mean "auth_table"' },
  { name: "a column named id", files: one(project("", col("id: string"))), path: "tables.users.columns.id", message: "reserved" },
  { name: "a column named email on the auth table", files: one(project("", col("email: string"))), path: "tables.users.columns.email", message: "reserved on the auth table" },
  { name: "a column named password_x on the auth table", files: one(project("", col("password_x: string"))), path: "tables.users.columns.password_x", message: "reserved on the auth table" },
  { name: "a column named reset_x on the auth table", files: one(project("", col("reset_x: string"))), path: "tables.users.columns.reset_x", message: 'starting with "reset_"' },
  { name: "a column named verification_x on the auth table", files: one(project("", col("verification_x: string"))), path: "tables.users.columns.verification_x", message: "reserved on the auth table" },
  { name: "a column named created_at", files: one(project("", col("created_at: datetime"))), path: "tables.users.columns.created_at", message: "reserved" },
  { name: "a column named rowid", files: one(project("", col("rowid: int"))), path: "tables.users.columns.rowid", message: "reserved" },
  { name: "a column name with a quote", files: one(project("", col(`"it's": string`))), path: "tables.users.columns.it's", message: "invalid column name" },
  { name: "a column name with a space", files: one(project("", col(`"nick name": string`))), path: "tables.users.columns.nick name", message: "invalid column name" },
  { name: "an uppercase column name", files: one(project("", col("Nickname: string"))), path: "tables.users.columns.Nickname", message: "invalid column name" },
  { name: "an unknown column type", structural: true, files: one(project("", col("age: integer"))), path: "tables.users.columns.age", message: 'unknown type "integer"' },
  { name: "a file column", structural: true, files: one(project("", col("avatar: file"))), path: "tables.users.columns.avatar", message: "file columns are not supported (no storage yet)" },
  { name: "an enum without values", files: one(project("", col("role: { type: enum }"))), path: "tables.users.columns.role", message: "enum needs a non-empty list of values" },
  { name: "an enum value with a space", structural: true, files: one(project("", col('role: { type: enum, values: [user, "super admin"] }'))), path: "tables.users.columns.role", message: 'enum value "super admin" is invalid' },
  { name: "a ref to a missing table", files: one(project("  notes:\n    columns:\n      owner: ref userz")), path: "tables.notes.columns.owner", message: 'ref target table "userz" does not exist (did you mean "users"?)' },
  { name: "set_null with required", files: one(project("  notes:\n    columns:\n      owner: ref users required set_null")), path: "tables.notes.columns.owner", message: "set_null cannot be combined with required" },
  { name: "a bad int default", files: one(project("", col("age: int default ten"))), path: "tables.users.columns.age", message: "default must be an integer" },
  { name: "a bad bool default", files: one(project("", col("newsletter: bool default yes"))), path: "tables.users.columns.newsletter", message: "default must be true or false" },
  { name: "a bad date default", files: one(project("", col("born: date default 2023-02-30"))), path: "tables.users.columns.born", message: "calendar date" },
  { name: "a bad enum default", files: one(project("", col("role: { type: enum, values: [user, admin], default: root }"))), path: "tables.users.columns.role", message: "default must be one of the enum values (user, admin)" },
  { name: "max_length on an int", files: one(project("", col("age: int max_length 3"))), path: "tables.users.columns.age", message: "max_length applies only to string and text" },
  { name: "a readonly required column without default on the auth table", files: one(project("", col("plan: string readonly required"))), path: "tables.users.columns.plan", message: "needs a default" },
  { name: "a bad duration", structural: true, files: one(project("auth:\n  access_token_ttl: 15 minutes")), path: "auth.access_token_ttl", message: "invalid duration" },
  { name: "a session_max_age under a minute", files: one(project("auth:\n  session_max_age: 30s")), path: "auth.session_max_age", message: "must be at least 60s" },
  { name: "a refresh_per_session without window", structural: true, files: one(project("auth:\n  rate_limits:\n    refresh_per_session: { max: 5 }")), path: "auth.rate_limits.refresh_per_session.window", message: "is required" },
  { name: "a non-boolean revoke_sessions_on_password_reset", structural: true, files: one(project("auth:\n  revoke_sessions_on_password_reset: yes")), path: "auth.revoke_sessions_on_password_reset", message: "expected true or false" },
  { name: "a missing env var", files: one(project("keys:\n  admin: ${DEMO_ADMIN_KEY}")), path: "keys.admin", message: "environment variable DEMO_ADMIN_KEY is not set" },
  { name: "an env default that is itself invalid", files: one(project("allowed_redirect_origins:\n  - ${APP_ORIGIN:-http://a.com}")), path: "allowed_redirect_origins.0", message: "http is allowed only for localhost" },
  { name: "the redirect origin *", files: one(project("allowed_redirect_origins: ['*']")), path: "allowed_redirect_origins.0", message: "wildcards are not allowed" },
  { name: "a redirect origin with a path", files: one(project("allowed_redirect_origins: [https://a.com/path]")), path: "allowed_redirect_origins.0", message: "no path" },
  { name: "a plain-http redirect origin", files: one(project("allowed_redirect_origins: [http://a.com]")), path: "allowed_redirect_origins.0", message: "http is allowed only" },
  { name: "a wildcard subdomain origin", files: one(project("allowed_redirect_origins: ['https://*.a.com']")), path: "allowed_redirect_origins.0", message: "wildcards are not allowed" },
  { name: "the second of two origins being bad", files: one(project("allowed_redirect_origins: [https://ok.com, 'https://a.com?x=1']")), path: "allowed_redirect_origins.1", message: "no query" },
  { name: "the project id Demo", structural: true, files: one(project("", { id: "Demo" })), path: "id", message: 'invalid project id "Demo"' },
  { name: "a missing project id", structural: true, files: one("tables: {}\n"), path: "id", message: "is required" },
  {
    name: "a duplicate project id in two files",
    files: { "a.yaml": project(), "b.yaml": project() },
    file: "b.yaml",
    path: "id",
    message: 'duplicate project id "demo": also declared in',
  },
  { name: "two auth tables", files: one(project("  members:\n    auth_table: true")), path: "tables.members.auth_table", message: 'at most one auth table, and "users" already is one' },
  { name: "verify_email on a non-auth table", files: one(project("  notes:\n    verify_email: true")), path: "tables.notes.verify_email", message: "verify_email applies only to the auth table" },
  { name: "a table name starting with _", files: one(project("  _private:\n    columns: {}")), path: "tables._private", message: "internal" },
  { name: "a table name starting with sqlite_", files: one(project("  sqlite_stat:\n    columns: {}")), path: "tables.sqlite_stat", message: "SQLite reserves" },
  { name: "an unknown hasher algorithm", structural: true, files: one(project("auth:\n  hasher: { algorithm: md5 }")), path: "auth.hasher.algorithm", message: 'unknown hasher algorithm "md5" (known: argon2id, bcrypt, scrypt)' },
  { name: "a bad hasher option", structural: true, files: one(project("auth:\n  hasher: { algorithm: argon2id, options: { memory_cost: 1 } }")), path: "auth.hasher.options.memory_cost", message: "" },
  { name: "an unknown mail provider", structural: true, files: one(project("mail:\n  provider: sendgrid")), path: "mail.provider", message: 'unknown mail provider "sendgrid"' },
  { name: "smtp options with neither url nor host", files: one(project("mail:\n  provider: smtp\n  options: { port: 25 }")), path: "mail.options", message: "url" },
  {
    name: "a bad smtp url from the environment (not echoed)",
    files: one(project('mail:\n  provider: smtp\n  options: { url: "${SMTP_URL}" }')),
    env: { SMTP_URL: "http://mailer:hunter2secret@smtp.example.com" },
    path: "mail.options.url",
    message: "url must be",
    secrets: ["hunter2secret"],
  },
  {
    name: "a subject with an unknown variable",
    files: one(project("mail:\n  templates:\n    reset_password: { subject: 'Reset {{ projectname }}' }")),
    path: "mail.templates.reset_password.subject",
    message: "{{projectname}} cannot be used in a subject",
  },
  {
    name: "a subject carrying a user value (the email) into a header",
    files: one(project("mail:\n  templates:\n    reset_password: { subject: 'Reset for {{email}}' }")),
    path: "mail.templates.reset_password.subject",
    message: "no user value goes into a mail header",
  },
  {
    name: "a subject carrying a user column into a header",
    files: one(project("mail:\n  templates:\n    verify_email: { subject: 'Hi {{user.nickname}}' }", col("nickname: string"))),
    path: "mail.templates.verify_email.subject",
    message: "cannot be used in a subject",
  },
  {
    name: "a template naming a hidden user column",
    files: { "demo.yaml": project("mail:\n  templates:\n    verify_email: { text: mail/v.txt }", col("internal_note: text hidden")), "mail/v.txt": "Hi {{user.internal_note}}\n" },
    path: "mail.templates.verify_email.text",
    message: "hidden column",
  },
  {
    name: "a template file with an unknown variable",
    files: { "demo.yaml": project("mail:\n  templates:\n    password_changed: { text: mail/changed.txt }"), "mail/changed.txt": "Hello {{user.nickname}}\n" },
    path: "mail.templates.password_changed.text",
    message: "unknown template variable {{user.nickname}}",
  },
  { name: "a missing template file", files: one(project("mail:\n  templates:\n    reset_password: { html: mail/reset.html }")), path: "mail.templates.reset_password.html", message: 'template file "mail/reset.html" not found' },
  { name: "an unknown template name", structural: true, files: one(project("mail:\n  templates:\n    welcome: { subject: Hi }")), path: "mail.templates.welcome", message: 'unknown key "welcome"' },
  { name: "a mail.from with two addresses", files: one(project("mail:\n  from: 'a@x.com, b@y.com'")), path: "mail.from", message: "single address" },
  { name: "a mail.from with a line break", files: one(project('mail:\n  from: "Demo <a@x.com>\\r\\nBcc: victim@y.com"')), path: "mail.from", message: "control characters" },
  { name: "a password min_length of 6", structural: true, files: one(project("auth:\n  password: { min_length: 6 }")), path: "auth.password.min_length", message: "at least 8" },
  { name: "a password max_length below min_length", files: one(project("auth:\n  password: { min_length: 20, max_length: 12 }")), path: "auth.password.max_length", message: "at least min_length" },
  { name: "a password max_length above 1024", structural: true, files: one(project("auth:\n  password: { max_length: 5000 }")), path: "auth.password.max_length", message: "at most 1024" },
  {
    name: "an admin key without sk_", structural: true,
    files: one(project(`keys:\n  admin: ${ADMIN_KEY_NO_PREFIX}`)),
    path: "keys.admin",
    message: "must start with sk_",
    secrets: [ADMIN_KEY_NO_PREFIX],
  },
  {
    name: "an admin key that is too short", structural: true,
    files: one(project(`keys:\n  admin: ${ADMIN_KEY_SHORT}`)),
    path: "keys.admin",
    message: "32 to 256 characters",
    secrets: [ADMIN_KEY_SHORT],
  },
  {
    name: "a public key with the admin prefix, from the environment",
    files: one(project("keys:\n  public: ${PK}")),
    env: { PK: "sk_Zq8c2VvN3mR7pLw0sT5yKb1HdJ6gFe4Aabcd" },
    path: "keys.public",
    message: "must start with pk_",
    secrets: ["Zq8c2VvN3mR7pLw0sT5yKb1HdJ6gFe4Aabcd"],
  },
  { name: "a rate limit with a bad window", structural: true, files: one(project("auth:\n  rate_limits:\n    login_per_ip: { max: 5, window: 10 minutes }")), path: "auth.rate_limits.login_per_ip.window", message: "invalid duration" },
  { name: "a rate limit that is neither a rule nor off", structural: true, files: one(project("auth:\n  rate_limits:\n    login_per_ip: disabled")), path: "auth.rate_limits.login_per_ip", message: "{ max, window } or off" },
  { name: "an unknown rate limit name", structural: true, files: one(project("auth:\n  rate_limits:\n    login_per_email: off")), path: "auth.rate_limits.login_per_email", message: "unknown key" },
  { name: "a compound unique naming a missing column", files: one(project("  notes:\n    columns:\n      a: string\n    unique: [[a, b]]")), path: "tables.notes.unique.0", message: 'unknown column "b" (a compound' },
  { name: "a verify_redirect_url off the allow-list", files: one(project("allowed_redirect_origins: [https://myapp.com]\nauth:\n  verify_redirect_url: https://evil.com/verified")), path: "auth.verify_redirect_url", message: "allowed_redirect_origins" },
  { name: "cors mixing * with an origin", files: one(project("cors:\n  allowed_origins: ['*', https://a.com]")), path: "cors.allowed_origins", message: '"*" must be the only entry' },
  { name: "a non-boolean confirm_destructive", structural: true, files: one(project("confirm_destructive: yes")), path: "confirm_destructive", message: "expected true or false, got a string" },
  // SPEC 13: auth.signing and auth.token_claims.
  { name: "an unsupported signing algorithm", structural: true, files: one(project("auth:\n  signing: { algorithm: RS256 }")), path: "auth.signing.algorithm", message: "must be one of HS256, EdDSA, ES256" },
  { name: "an unknown key under auth.signing", structural: true, files: one(project("auth:\n  signing: { algorithm: EdDSA, rotate_evry: 30d }")), path: "auth.signing.rotate_evry", message: 'did you mean "rotate_every"' },
  { name: "scheduled rotation with HS256", files: one(project("auth:\n  signing: { rotate_every: 30d }")), path: "auth.signing.rotate_every", message: "set auth.signing.algorithm to EdDSA or ES256" },
  { name: "a rotation period not longer than the token TTL + 5m", files: one(project("auth:\n  access_token_ttl: 1h\n  signing: { algorithm: ES256, rotate_every: 65m }")), path: "auth.signing.rotate_every", message: "must be longer than access_token_ttl + 5m (3900s)" },
  { name: "a bad rotation period", files: one(project("auth:\n  signing: { algorithm: EdDSA, rotate_every: monthly }")), path: "auth.signing.rotate_every", message: "invalid duration" },
  { name: "a token claim that is a hidden column", files: one(project("auth:\n  token_claims: [secret]", { columns: "      secret: string hidden" })), path: "auth.token_claims.0", message: '"secret" is a hidden column' },
  { name: "a token claim that clashes with a registered claim", files: one(project("auth:\n  token_claims: [display_name, iss]", { columns: "      iss: string" })), path: "auth.token_claims.1", message: 'clashes with the registered claim "iss"' },
  { name: "a token claim named sid (Latchkey's own claim)", files: one(project("auth:\n  token_claims: [sid]", { columns: "      sid: string" })), path: "auth.token_claims.0", message: 'clashes with the registered claim "sid"' },
  { name: "a token claim that is no column", files: one(project("auth:\n  token_claims: [display_nam]")), path: "auth.token_claims.0", message: 'not a custom column of the auth table "users" (did you mean "display_name"?)' },
  { name: "a token claim listed twice", files: one(project("auth:\n  token_claims: [display_name, display_name]")), path: "auth.token_claims.1", message: "listed twice" },
  { name: "token claims without an auth table", files: one("id: demo\ntables:\n  notes:\n    columns:\n      body: text\nauth:\n  token_claims: [body]\n"), path: "auth.token_claims", message: "needs an auth table" },
  { name: "token claims that are not a list", structural: true, files: one(project("auth:\n  token_claims: role")), path: "auth.token_claims", message: "must be a list of auth-table column names" },
];

