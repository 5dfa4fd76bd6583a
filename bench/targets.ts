/**
 * The servers the harness measures, each behind one small adapter:
 * how to start it, its paths, and how to read tokens out of its answers.
 *
 * Latchkey's adapter is LATCHKEY below; everything the harness assumes about Latchkey
 * (binary, CLI flags, project file, paths, response shapes) lives there and nowhere else.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const BENCH_DIR = import.meta.dir;
export const ROOT = resolve(BENCH_DIR, "..");

export type MeasureName = "me" | "forward" | "refresh" | "login" | "signup" | "burst" | "cold" | "idle";

/** What one server answers to a signup or login: the bearer token and, where it has one, a refresh token. */
export type Session = { token: string; refresh?: string };

export type Launch = { cmd: string[]; env?: Record<string, string> };

export interface Target {
  key: string;
  label: string;
  /** Measures this target takes part in (the harness still skips those not selected). */
  measures: MeasureName[];
  /** Command to start it listening on 127.0.0.1:port with a fresh data dir. `projects` is only for cold starts. */
  launch(port: number, dataDir: string, opts?: { projectsDir?: string }): Launch;
  paths: { healthz: string; readyz?: string; me: string; login: string; signup: string; refresh?: string; forward?: string };
  /** Extra JSON members for a signup body, e.g. better-auth's required `name`. Starts with a comma or is empty. */
  signupExtra: string;
  /** Read the session out of a signup (or login) answer. */
  session(res: Response, body: any): Session;
  /**
   * How the "refresh" measure loads it:
   *  - "chain": POST paths.refresh {refresh_token}; every request presents a never-used refresh token
   *    (the successor returned by the previous answer), seeded from signups before each run;
   *  - "bearer-get": GET paths.refresh with a bearer token (better-auth's session refresh).
   */
  refreshMode?: "chain" | "bearer-get";
  /** Optional: prepare config before starting (Latchkey writes its project file). */
  prepare?(workDir: string): void;
  /** Optional: write N project files into dir for the cold-start measure. */
  writeProjects?(dir: string, n: number): void;
}

// -------------------------------------------------------------------------------------------------
// Latchkey (the thing under test)
// -------------------------------------------------------------------------------------------------

export const LATCHKEY_BIN = process.env.BENCH_LATCHKEY_BIN ?? join(ROOT, "dist", "latchkey");
/** Built by the root `npm run build` (bun build src/main.ts --compile ... --outfile dist/latchkey). */
export const LATCHKEY_ENTRY = join(ROOT, "src", "main.ts");
export const LATCHKEY_PROJECT_ID = "bench";

/** `algorithm`: the project's `auth.signing.algorithm` (SPEC 13); HS256 is the default and writes nothing. */
export function latchkeyProjectYaml(id = LATCHKEY_PROJECT_ID, algorithm: "HS256" | "EdDSA" | "ES256" = "HS256"): string {
  return `id: ${id}
tables:
  users:
    auth_table: true
    columns:
      display_name: string
auth:
  rate_limits: { login_failures_per_account: off, login_per_ip: off, signup_per_ip: off }
${algorithm === "HS256" ? "" : `  signing: { algorithm: ${algorithm} }\n`}`;
}

function latchkeyTarget(key: string, algorithm: "HS256" | "EdDSA" | "ES256", measures: MeasureName[], bin = LATCHKEY_BIN): Target {
  let configDir = "";
  return {
    key,
    label: `Latchkey ${algorithm} (${bin === LATCHKEY_BIN ? (process.env.BENCH_LATCHKEY_BIN ?? "dist/latchkey") : bin})`,
    measures,
    prepare(workDir) {
      configDir = join(workDir, `${key}-config`);
      mkdirSync(configDir, { recursive: true });
      writeFileSync(join(configDir, "bench.yaml"), latchkeyProjectYaml(LATCHKEY_PROJECT_ID, algorithm));
    },
    writeProjects(dir, n) {
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const id = `bench-${String(i).padStart(3, "0")}`;
        writeFileSync(join(dir, `${id}.yaml`), latchkeyProjectYaml(id, algorithm));
      }
    },
    launch(port, dataDir, opts) {
      const config = opts?.projectsDir ?? configDir;
      return {
        cmd: [bin, "serve", "--config", config, "--data", dataDir, "--host", "127.0.0.1", "--port", String(port)],
        // Latchkey's default log level unless asked: its per-request logging is part of what users run
        env: (process.env.BENCH_LATCHKEY_LOG_LEVEL ? { LATCHKEY_LOG_LEVEL: process.env.BENCH_LATCHKEY_LOG_LEVEL } : {}) as Record<string, string>,
      };
    },
    paths: {
      healthz: "/healthz",
      readyz: "/readyz",
      me: `/p/${LATCHKEY_PROJECT_ID}/auth/me`,
      forward: `/p/${LATCHKEY_PROJECT_ID}/auth/forward`,
      login: `/p/${LATCHKEY_PROJECT_ID}/auth/login`,
      signup: `/p/${LATCHKEY_PROJECT_ID}/auth/signup`,
      refresh: `/p/${LATCHKEY_PROJECT_ID}/auth/refresh`,
    },
    signupExtra: "",
    // 201 {data:{token, refresh_token, user}} / 200 {data:{token, refresh_token, user}}
    session: (_res, body) => ({ token: body?.data?.token, refresh: body?.data?.refresh_token }),
    refreshMode: "chain",
  };
}

/** The default project (HS256): every measure, /auth/forward next to /auth/me. */
export const LATCHKEY: Target = latchkeyTarget("latchkey", "HS256", ["me", "forward", "refresh", "login", "signup", "burst", "cold", "idle"]);
/** The same binary with EdDSA / ES256 signing (SPEC 13): token check and signing cost next to HS256. */
export const LATCHKEY_EDDSA: Target = latchkeyTarget("latchkey-eddsa", "EdDSA", ["me", "forward", "login"]);
export const LATCHKEY_ES256: Target = latchkeyTarget("latchkey-es256", "ES256", ["me", "forward", "login"]);
/**
 * An A/B of two builds in one run: `BENCH_LATCHKEY_BASE_BIN=<binary of the commit before>` adds
 * `latchkey-base`, the default project on that binary, measured in the same interleaved rounds.
 */
const BASE_BIN = process.env.BENCH_LATCHKEY_BASE_BIN;
export const LATCHKEY_BASE: Target | null = BASE_BIN ? latchkeyTarget("latchkey-base", "HS256", ["me", "refresh", "login", "signup"], BASE_BIN) : null;
export const LATCHKEY_VARIANTS: Target[] = [LATCHKEY_EDDSA, LATCHKEY_ES256, ...(LATCHKEY_BASE ? [LATCHKEY_BASE] : [])];

export function latchkeyBuilt(): boolean {
  return existsSync(LATCHKEY_BIN);
}

// -------------------------------------------------------------------------------------------------
// References
// -------------------------------------------------------------------------------------------------

const bun = process.execPath;

export const BARE: Target = {
  key: "bare",
  label: "bare Bun.serve (bench/bare.ts)",
  measures: ["me", "refresh", "login", "signup", "burst", "cold", "idle"],
  launch: (port, dataDir) => ({
    cmd: [bun, join(BENCH_DIR, "bare.ts"), "--host", "127.0.0.1", "--port", String(port), "--data", dataDir],
  }),
  paths: { healthz: "/healthz", me: "/me", login: "/login", signup: "/signup", refresh: "/refresh" },
  signupExtra: "",
  session: (_res, body) => ({ token: body?.data?.token, refresh: body?.data?.refresh_token }),
  refreshMode: "chain",
};

function betterAuth(key: string, label: string, env: Record<string, string>, measures: MeasureName[]): Target {
  return {
    key,
    label,
    measures,
    launch: (port, dataDir) => ({
      cmd: [bun, join(BENCH_DIR, "better-auth-server.ts")],
      env: { HOST: "127.0.0.1", PORT: String(port), BA_DATA: dataDir, BETTER_AUTH_TELEMETRY: "0", ...env },
    }),
    paths: {
      healthz: "/healthz",
      me: "/api/auth/get-session",
      login: "/api/auth/sign-in/email",
      signup: "/api/auth/sign-up/email",
      refresh: "/api/auth/get-session",
    },
      signupExtra: ',"name":"Bench User"',
    // the bearer plugin hands out the signed session token in `set-auth-token`
    session: (res) => ({ token: res.headers.get("set-auth-token") ?? "" }),
    refreshMode: "bearer-get",
  };
}

/** better-auth with its defaults (scrypt N=16384, r=16, p=1). */
export const BETTER_AUTH = betterAuth("better-auth", "better-auth (defaults: scrypt)", {}, ["me", "login", "signup", "cold", "idle"]);
/** better-auth hashing with argon2id at Latchkey's defaults. */
export const BETTER_AUTH_ARGON = betterAuth(
  "better-auth-argon2id",
  "better-auth (argon2id m=19456 t=2 p=1)",
  { BA_HASH: "argon2id" },
  ["login", "signup"],
);
/**
 * better-auth whose every get-session refreshes the session (session.updateAge = 0): the session
 * row's expiry is rewritten on each request. Its closest write path to Latchkey's refresh.
 */
export const BETTER_AUTH_REFRESH = betterAuth(
  "better-auth-refresh",
  "better-auth (session.updateAge=0: get-session refreshes the session)",
  { BA_SESSION_UPDATE_AGE: "0" },
  ["refresh"],
);

export const REFERENCES: Target[] = [BARE, BETTER_AUTH, BETTER_AUTH_ARGON, BETTER_AUTH_REFRESH];
