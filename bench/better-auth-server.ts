/**
 * The "peer" reference for the Latchkey benchmark: better-auth (npm, pinned in bench/package.json)
 * on Bun.serve with bun:sqlite, email/password enabled, the bearer plugin, its rate limiter off.
 *
 * Environment:
 *   PORT, HOST                 where to listen (default 127.0.0.1:8091)
 *   BA_DATA                    directory for the SQLite file (created; the schema is migrated at start)
 *   BA_HASH=argon2id           hash passwords with argon2id at Latchkey's defaults (m=19456 KiB, t=2,
 *                              p=1) through emailAndPassword.password.{hash,verify}; otherwise
 *                              better-auth's default (scrypt N=16384 r=16 p=1)
 *   BA_SESSION_UPDATE_AGE=N    session.updateAge in seconds. 0 turns every get-session into a
 *                              session refresh (the session row's expiry is rewritten), which the
 *                              harness uses as better-auth's closest write path to a token refresh.
 *
 * Endpoints used by the harness (better-auth's own routes under /api/auth):
 *   POST /api/auth/sign-up/email {email,password,name}   -> token in the `set-auth-token` header
 *   POST /api/auth/sign-in/email {email,password}
 *   GET  /api/auth/get-session   Authorization: Bearer <set-auth-token value>
 *   GET  /healthz
 *
 * The database gets the same settings as the other servers: WAL, synchronous=FULL.
 *
 * better-auth is loaded through a computed specifier so that the repository's `tsc --noEmit`
 * (which includes bench/*.ts) does not need bench/node_modules installed; the few shapes used
 * here are typed locally below.
 */
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

type Options = Record<string, unknown>;
type BetterAuthModule = { betterAuth: (options: Options) => { handler: (req: Request) => Promise<Response> } };
type MigrationModule = { getMigrations: (options: Options) => Promise<{ runMigrations: () => Promise<void> }> };
type BearerModule = { bearer: (options?: Record<string, unknown>) => unknown };

const load = <T>(specifier: string): Promise<T> => import(specifier) as Promise<T>;
const pkg = "better-auth";
const { betterAuth } = await load<BetterAuthModule>(pkg);
const { getMigrations } = await load<MigrationModule>(`${pkg}/db/migration`);
const { bearer } = await load<BearerModule>(`${pkg}/plugins/bearer`).catch(() => load<BearerModule>(`${pkg}/plugins`));

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8091);
const dataDir = process.env.BA_DATA ?? join(import.meta.dir, "out", "better-auth-data");
const argon2id = process.env.BA_HASH === "argon2id";
const updateAge = process.env.BA_SESSION_UPDATE_AGE;

mkdirSync(dataDir, { recursive: true });
const db = new Database(join(dataDir, "better-auth.db"), { create: true });
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = FULL");
db.exec("PRAGMA busy_timeout = 5000");

const ARGON = { algorithm: "argon2id", memoryCost: 19456, timeCost: 2 } as const;

const options: Options = {
  appName: "latchkey-bench",
  baseURL: `http://${host}:${port}`,
  secret: process.env.BETTER_AUTH_SECRET ?? randomBytes(32).toString("hex"),
  database: db,
  emailAndPassword: {
    enabled: true,
    ...(argon2id
      ? {
          password: {
            hash: (password: string) => Bun.password.hash(password, ARGON),
            verify: ({ hash, password }: { hash: string; password: string }) => Bun.password.verify(password, hash),
          },
        }
      : {}),
  },
  plugins: [bearer()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  ...(updateAge !== undefined && updateAge !== "" ? { session: { updateAge: Number(updateAge) } } : {}),
};

const { runMigrations } = await getMigrations(options);
await runMigrations();

const auth = betterAuth(options);

const server = Bun.serve({
  hostname: host,
  port,
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path.startsWith("/api/auth/")) return auth.handler(req);
    if (path === "/healthz") return Response.json({ data: { status: "ok" } });
    return Response.json({ error: { code: "NOT_FOUND" } }, { status: 404 });
  },
});

console.log(
  `better-auth reference (${argon2id ? "argon2id" : "default scrypt"}${updateAge !== undefined ? `, session.updateAge=${updateAge}` : ""}) listening on http://${server.hostname}:${server.port}`,
);

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    server.stop(true);
    db.close();
    process.exit(0);
  });
}
