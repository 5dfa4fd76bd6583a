import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { formatConfigIssue, loadProjects } from "../../src/config/load.ts";
import type { LoadResult } from "../../src/config/load.ts";
import type { AuthConfig, ColumnDef, ProjectConfig } from "../../src/config/types.ts";
import { loadTree, project } from "./helpers.ts";

const ROOT = resolve(import.meta.dir, "../..");
const FULL_DIR = join(ROOT, "test/fixtures/config/full");
const ADMIN_KEY = "sk_adminAdminAdminAdminAdminAdmin0001";

function load(paths: readonly string[], env: Record<string, string | undefined> = {}): LoadResult {
  return loadProjects(paths, { env, registry: BUILTIN_PLUGINS });
}

function only(result: LoadResult): ProjectConfig {
  if (result.issues.length > 0) throw new Error(result.issues.map(formatConfigIssue).join("\n"));
  expect(result.projects).toHaveLength(1);
  return result.projects[0];
}

const base = (c: Partial<ColumnDef> & Pick<ColumnDef, "name" | "type">): ColumnDef => ({
  required: false, unique: false, index: false, hasDefault: false, readonly: false, hidden: false, ...c,
});

const DEFAULT_AUTH: AuthConfig = {
  accessTokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 30 * 86_400,
  refreshReuseGraceSeconds: 10,
  resetTokenTtlSeconds: 3600,
  verifyTokenTtlSeconds: 86_400,
  requireVerifiedEmail: false,
  revokeSessionsOnPasswordChange: false,
  revokeSessionsOnPasswordReset: false,
  sessionMaxAgeSeconds: 90 * 86_400,
  verifyRedirectUrl: null,
  requirePublicKey: false,
  password: { minLength: 8, maxLength: 128, rejectCommon: false },
  hasher: { id: "argon2id", options: { memory_cost: 19456, time_cost: 2 } },
  rateLimits: {
    login_failures_per_account: { max: 10, windowSeconds: 900 },
    login_per_ip: { max: 100, windowSeconds: 900 },
    signup_per_ip: { max: 20, windowSeconds: 3600 },
    forgot_password_per_email: { max: 3, windowSeconds: 3600 },
    forgot_password_per_ip: { max: 20, windowSeconds: 3600 },
    resend_verification_per_user: { max: 3, windowSeconds: 3600 },
    link_per_ip: { max: 30, windowSeconds: 900 },
    admin_key_failures_per_ip: { max: 20, windowSeconds: 900 },
    refresh_per_session: { max: 60, windowSeconds: 60 },
    resend_verification_per_ip: { max: 20, windowSeconds: 3600 },
    change_email_per_user: { max: 3, windowSeconds: 3600 },
  },
  signing: { algorithm: "HS256", rotateEverySeconds: null },
  tokenClaims: [],
};

describe("loadProjects: good files", () => {
  it("loads project.example.yaml with no environment into the expected config, defaults filled", () => {
    const file = join(ROOT, "project.example.yaml");
    expect(only(load([file]))).toStrictEqual({
      id: "demo",
      name: "Demo App",
      filePath: file,
      keys: {},
      allowedRedirectOrigins: ["http://localhost:5173"],
      tables: [
        {
          name: "users",
          authTable: true,
          verifyEmail: true,
          columns: [
            base({ name: "display_name", type: "string", maxLength: 80 }),
            base({ name: "role", type: "enum", values: ["user", "admin"], hasDefault: true, default: "user", readonly: true }),
            base({ name: "newsletter", type: "bool", hasDefault: true, default: false }),
          ],
          uniques: [],
        },
        {
          name: "notes",
          authTable: false,
          verifyEmail: false,
          columns: [
            base({ name: "user_id", type: "ref", refTable: "users", onDelete: "cascade", required: true, index: true }),
            base({ name: "body", type: "text", required: true }),
          ],
          uniques: [],
        },
      ],
      authTableName: "users",
      auth: { ...DEFAULT_AUTH, revokeSessionsOnPasswordChange: true, revokeSessionsOnPasswordReset: true },
      mail: { provider: { id: "console", options: {} }, from: "Demo App <no-reply@localhost>", templates: {} },
      cors: { allowedOrigins: ["*"] },
      confirmDestructive: false,
      audit: { retentionSeconds: 90 * 86_400 },
    });
  });

  it("fills every default for a minimal file", () => {
    const { projects, issues, dir } = loadTree({ "tiny.yaml": "id: tiny\n" });
    expect(issues).toEqual([]);
    expect(projects[0]).toStrictEqual({
      id: "tiny",
      name: "tiny",
      filePath: join(dir, "tiny.yaml"),
      keys: {},
      tables: [],
      authTableName: null,
      auth: DEFAULT_AUTH,
      mail: { provider: { id: "console", options: {} }, from: "tiny <no-reply@localhost>", templates: {} },
      cors: { allowedOrigins: ["*"] },
      confirmDestructive: false,
      audit: { retentionSeconds: 90 * 86_400 },
    });
    expect("allowedRedirectOrigins" in projects[0]).toBe(false);
  });

  it("loads a file that declares every section, reading env vars and template files", () => {
    const file = join(FULL_DIR, "shop.yaml");
    const config = only(load([file], { SHOP_ADMIN_KEY: ADMIN_KEY }));
    expect(config.name).toBe("Shop, Inc.");
    expect(config.keys).toEqual({ admin: ADMIN_KEY, public: "pk_publicPublicPublicPublicPublic0001" });
    expect(config.allowedRedirectOrigins).toEqual(["https://shop.example", "http://localhost:5173"]);
    expect(config.authTableName).toBe("customers");
    const [customers, orders, coupons] = config.tables;
    expect(customers.columns).toStrictEqual([
      base({ name: "display_name", type: "string", required: true, maxLength: 80, hasDefault: true, default: "New customer" }),
      base({ name: "tier", type: "enum", values: ["free", "pro"], hasDefault: true, default: "free", readonly: true }),
      base({ name: "birthday", type: "date" }),
      base({ name: "secret_note", type: "text", hidden: true }),
      base({ name: "score", type: "int", min: 0, max: 100, hasDefault: true, default: 50 }),
    ]);
    expect(orders.columns).toStrictEqual([
      base({ name: "customer_id", type: "ref", refTable: "customers", onDelete: "cascade", required: true, index: true }),
      base({ name: "coupon_id", type: "ref", refTable: "coupons", onDelete: "set_null", index: true }),
      base({ name: "placed_at", type: "datetime", hasDefault: true, default: "now" }),
      base({ name: "total", type: "float", required: true }),
      base({ name: "meta", type: "json", hasDefault: true, default: { source: "web" } }),
      base({ name: "code", type: "string", maxLength: 255 }),
    ]);
    expect(orders.uniques).toEqual([["customer_id", "code"]]);
    expect(coupons.columns.map((c) => c.name)).toEqual(["code", "ext_id"]);
    expect(config.auth).toStrictEqual({
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 7 * 86_400,
      refreshReuseGraceSeconds: 0,
      resetTokenTtlSeconds: 1800,
      verifyTokenTtlSeconds: 2 * 86_400,
      requireVerifiedEmail: true,
      revokeSessionsOnPasswordChange: true,
      revokeSessionsOnPasswordReset: true,
      sessionMaxAgeSeconds: 30 * 86_400,
      verifyRedirectUrl: "https://shop.example/verified?from=email",
      requirePublicKey: true,
      password: { minLength: 12, maxLength: 256, rejectCommon: true },
      hasher: { id: "bcrypt", options: { cost: 10 } },
      rateLimits: {
        ...DEFAULT_AUTH.rateLimits,
        login_per_ip: null,
        signup_per_ip: { max: 5, windowSeconds: 86_400 },
        refresh_per_session: { max: 10, windowSeconds: 60 },
        resend_verification_per_ip: null,
      },
      signing: { algorithm: "HS256", rotateEverySeconds: null },
      tokenClaims: [],
    });
    expect(config.mail).toStrictEqual({
      provider: { id: "file", options: { dir: "./outbox" } },
      from: '"Shop, Inc." <no-reply@shop.example>',
      templates: {
        reset_password: {
          subject: "Reset your {{ project_name }} password",
          text: readFileSync(join(FULL_DIR, "mail/reset.txt"), "utf8"),
        },
        verify_email: { html: readFileSync(join(FULL_DIR, "mail/verify.html"), "utf8") },
      },
    });
    expect(config.cors).toEqual({ allowedOrigins: ["https://shop.example", "http://intranet.local:8080"] });
    expect(config.confirmDestructive).toBe(true);
  });

  it("uses the env value over the ${VAR:-default} default when it is set", () => {
    const config = only(load([join(FULL_DIR, "shop.yaml")], {
      SHOP_ADMIN_KEY: ADMIN_KEY,
      SHOP_PUBLIC_KEY: "pk_fromTheEnvironmentFromTheEnvironment",
    }));
    expect(config.keys.public).toBe("pk_fromTheEnvironmentFromTheEnvironment");
  });

  it("substitutes ${VAR:-default} in any string value", () => {
    const files = { "demo.yaml": project("name: ${APP_NAME:-Fallback Name}\nallowed_redirect_origins: ['${ORIGIN:-https://app.example}']") };
    const withDefaults = loadTree(files);
    expect(withDefaults.issues).toEqual([]);
    expect(withDefaults.projects[0].name).toBe("Fallback Name");
    expect(withDefaults.projects[0].allowedRedirectOrigins).toEqual(["https://app.example"]);
    const withEnv = loadTree(files, { APP_NAME: "From Env", ORIGIN: "https://env.example" });
    expect(withEnv.projects[0].name).toBe("From Env");
    expect(withEnv.projects[0].allowedRedirectOrigins).toEqual(["https://env.example"]);
  });

  it("gives equal ColumnDefs for the short and the long form", () => {
    const { projects, issues } = loadTree({
      "demo.yaml": `id: demo
tables:
  short:
    columns:
      owner: ref long required cascade
      name: string required unique max_length 40 default anon
      kind: { type: enum, values: [a, b], default: a }
      born: date index default 2000-01-01
  long:
    columns:
      owner: { type: ref, table: long, required: true, on_delete: cascade }
      name: { type: string, required: true, unique: true, max_length: 40, default: anon }
      kind: { type: enum, values: [a, b], default: a }
      born: { type: date, index: true, default: "2000-01-01" }
`,
    });
    expect(issues).toEqual([]);
    const [short, long] = projects[0].tables;
    expect(short.columns).toStrictEqual(long.columns);
  });

  it("loads every *.yaml and *.yml of a directory, sorted, skipping other files and dotfiles", () => {
    const { projects, issues } = loadTree({
      "b.yml": "id: bravo\n",
      "a.yaml": "id: alpha\n",
      "c.yaml.bak": "id: charlie\n",
      "notes.txt": "not yaml",
      "._a.yaml": "\u0000\u0005garbage",
      "sub/d.yaml": "id: delta\n",
    });
    expect(issues).toEqual([]);
    expect(projects.map((p) => p.id)).toEqual(["alpha", "bravo"]);
  });

  it("loads a file given twice (directly and through its directory) once", () => {
    const { dir } = loadTree({ "a.yaml": "id: alpha\n" });
    const result = load([dir, join(dir, "a.yaml")]);
    expect(result.issues).toEqual([]);
    expect(result.projects.map((p) => p.id)).toEqual(["alpha"]);
  });

  it("deep-freezes what it returns", () => {
    const config = only(load([join(ROOT, "project.example.yaml")]));
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.tables[0].columns[1].values)).toBe(true);
    expect(Object.isFrozen(config.auth.rateLimits.login_per_ip)).toBe(true);
    expect(Object.isFrozen(config.mail.provider.options)).toBe(true);
    expect(() => {
      (config.auth as { requirePublicKey: boolean }).requirePublicKey = true;
    }).toThrow();
  });

  it("formats an issue as file: path: message", () => {
    expect(formatConfigIssue({ file: "p.yaml", path: "tables.users.columns.role", message: "bad" })).toBe("p.yaml: tables.users.columns.role: bad");
    expect(formatConfigIssue({ file: "p.yaml", path: "", message: "empty" })).toBe("p.yaml: empty");
  });

  it("loads the good projects and reports the bad ones in one pass", () => {
    const { projects, issues } = loadTree({ "good.yaml": "id: good\n", "bad.yaml": "id: bad\nauth: { nope: 1 }\n" });
    expect(projects.map((p) => p.id)).toEqual(["good"]);
    expect(issues.map((i) => i.path)).toEqual(["auth.nope"]);
  });

  it("reads auth.signing and auth.token_claims (SPEC 13)", () => {
    const { projects, issues } = loadTree({
      "demo.yaml": project("auth:\n  access_token_ttl: 15m\n  signing: { algorithm: EdDSA, rotate_every: 30d }\n  token_claims: [display_name, plan]", { columns: "      plan: string default free" }),
    });
    expect(issues).toEqual([]);
    expect(projects[0].auth.signing).toEqual({ algorithm: "EdDSA", rotateEverySeconds: 30 * 86_400 });
    expect(projects[0].auth.tokenClaims).toEqual(["display_name", "plan"]);
    const es = loadTree({ "demo.yaml": project("auth:\n  signing: { algorithm: ES256 }") });
    expect(es.projects[0].auth.signing).toEqual({ algorithm: "ES256", rotateEverySeconds: null });
  });
});
