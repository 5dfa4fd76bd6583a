/**
 * The "limit" reference for the Latchkey benchmark: a bare Bun.serve app doing the same core
 * work as Latchkey's auth endpoints and nothing else (no router framework, no validation
 * library, no logging, no rate limiting, no extra headers).
 *
 *   GET  /me       verify an HS256 JWT (alg header, signature, exp, aud, iss) + read one user row
 *                  by primary key (prepared statement)
 *   POST /login    read the user row by email + verify one argon2id hash + sign a JWT
 *   POST /signup   hash (argon2id, outside the transaction) + insert the user and its first
 *                  refresh token in one transaction + sign a JWT
 *   POST /refresh  refresh-token rotation: one indexed select + update + insert in a transaction
 *                  + sign a JWT
 *   GET  /healthz
 *
 * Storage: bun:sqlite, WAL, synchronous=FULL (the same durability Latchkey promises).
 * Password hashing: argon2id m=19456 KiB, t=2, p=1 (Latchkey's default, SPEC §9.2).
 *
 * Usage: bun bench/bare.ts [--port N] [--host ADDR] [--data DIR]
 *        (or PORT / HOST / BARE_DATA in the environment). Creates its database at start.
 */
import { Database } from "bun:sqlite";
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const host = flag("host") ?? process.env.HOST ?? "127.0.0.1";
const port = Number(flag("port") ?? process.env.PORT ?? 8090);
const dataDir = flag("data") ?? process.env.BARE_DATA ?? join(import.meta.dir, "out", "bare-data");

const ARGON = { algorithm: "argon2id", memoryCost: 19456, timeCost: 2 } as const;
const ACCESS_TTL_S = 15 * 60;
const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;
const ISS = `http://${host}:${port}`;
const AUD = "bare";
const SECRET = randomBytes(32);
const JWT_HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

// ---------------------------------------------------------------------------------------------
// storage
mkdirSync(dataDir, { recursive: true });
const db = new Database(join(dataDir, "bare.db"), { create: true, strict: true });
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = FULL");
db.exec("PRAGMA busy_timeout = 5000");
db.exec(`
  CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 0,
    password_version INTEGER NOT NULL DEFAULT 1,
    display_name TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS refresh_tokens (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
  );
`);

type UserRow = {
  id: string;
  email: string;
  password_hash: string;
  email_verified: number;
  password_version: number;
  display_name: string | null;
  created_at: string;
  updated_at: string;
};
type RefreshRow = {
  id: number;
  session_id: string;
  user_id: string;
  expires_at: number;
  rotated_at: number | null;
  email: string;
  email_verified: number;
  password_version: number;
};

const userById = db.query<UserRow, [string]>("SELECT * FROM users WHERE id = ?");
const userByEmail = db.query<UserRow, [string]>("SELECT * FROM users WHERE email = ?");
const insertUser = db.query(
  "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
);
const selectRefresh = db.query<RefreshRow, [Uint8Array]>(
  `SELECT rt.id, rt.session_id, rt.user_id, rt.expires_at, rt.rotated_at,
          u.email, u.email_verified, u.password_version
     FROM refresh_tokens rt JOIN users u ON u.id = rt.user_id
    WHERE rt.token_hash = ?`,
);
const markRotated = db.query("UPDATE refresh_tokens SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL");
const insertRefresh = db.query(
  "INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at) VALUES (?, ?, ?, ?)",
);

// ---------------------------------------------------------------------------------------------
// tokens
function signJwt(user: { id: string; email: string; email_verified: number; password_version: number }, sid: string) {
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({
      sub: user.id,
      aud: AUD,
      iss: ISS,
      iat: now,
      exp: now + ACCESS_TTL_S,
      sid,
      pv: user.password_version,
      email: user.email,
      email_verified: user.email_verified === 1,
    }),
  ).toString("base64url");
  const signingInput = `${JWT_HEADER}.${payload}`;
  return `${signingInput}.${createHmac("sha256", SECRET).update(signingInput).digest("base64url")}`;
}

type Claims = { sub: string; aud: string; iss: string; exp: number; sid: string; pv: number };

function verifyJwt(token: string): Claims | null {
  const a = token.indexOf(".");
  const b = token.indexOf(".", a + 1);
  if (a <= 0 || b <= a + 1 || token.indexOf(".", b + 1) !== -1) return null;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, a), "base64url").toString("utf8"));
    if (header?.alg !== "HS256") return null;
    const expected = createHmac("sha256", SECRET).update(token.slice(0, b)).digest();
    const sig = Buffer.from(token.slice(b + 1), "base64url");
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return null;
    const claims = JSON.parse(Buffer.from(token.slice(a + 1, b), "base64url").toString("utf8"));
    if (typeof claims?.exp !== "number" || Date.now() / 1000 >= claims.exp) return null;
    if (claims.aud !== AUD || claims.iss !== ISS || typeof claims.sub !== "string") return null;
    return claims as Claims;
  } catch {
    return null;
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();
const newRefreshToken = () => `rt_${randomBytes(32).toString("base64url")}`;

function publicUser(u: UserRow) {
  return {
    id: u.id,
    email: u.email,
    email_verified: u.email_verified === 1,
    created_at: u.created_at,
    updated_at: u.updated_at,
    display_name: u.display_name,
  };
}

// ---------------------------------------------------------------------------------------------
// handlers
const json = (status: number, body: unknown) => Response.json(body, { status });
const unauthorized = (code: string) => json(401, { error: { code, message: "unauthorized" } });

async function readJson(req: Request): Promise<Record<string, unknown> | null> {
  try {
    const body = await req.json();
    return body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// An unknown email still costs one hash verification (same time as a wrong password).
// Made in the background so that it does not delay the first /healthz answer.
const DUMMY_HASH = Bun.password.hash(randomBytes(16).toString("hex"), ARGON);

const signupTx = db.transaction((u: { id: string; email: string; hash: string; now: string }, rtHash: Buffer, sid: string) => {
  insertUser.run(u.id, u.email, u.hash, u.now, u.now);
  insertRefresh.run(rtHash, sid, u.id, Date.now() + REFRESH_TTL_MS);
});

const refreshTx = db.transaction((presented: Buffer, successor: Buffer): RefreshRow | null => {
  const row = selectRefresh.get(presented);
  const now = Date.now();
  if (!row || row.rotated_at !== null || row.expires_at <= now) return null;
  if (markRotated.run(now, row.id).changes !== 1) return null;
  insertRefresh.run(successor, row.session_id, row.user_id, now + REFRESH_TTL_MS);
  return row;
});

function me(req: Request): Response {
  const auth = req.headers.get("authorization");
  if (!auth || auth.length <= 7 || auth.slice(0, 7).toLowerCase() !== "bearer ") return unauthorized("AUTH_REQUIRED");
  const claims = verifyJwt(auth.slice(7).trim());
  if (!claims) return unauthorized("AUTH_INVALID_TOKEN");
  const user = userById.get(claims.sub);
  if (!user || user.password_version !== claims.pv) return unauthorized("AUTH_INVALID_TOKEN");
  return json(200, { data: { user: publicUser(user) } });
}

async function login(req: Request): Promise<Response> {
  const body = await readJson(req);
  if (!body || typeof body.email !== "string" || typeof body.password !== "string") {
    return json(400, { error: { code: "VALIDATION_INVALID_FIELD", message: "email and password required" } });
  }
  const user = userByEmail.get(body.email.trim().toLowerCase());
  const ok = await Bun.password.verify(body.password, user ? user.password_hash : await DUMMY_HASH);
  if (!user || !ok) return unauthorized("AUTH_INVALID_CREDENTIALS");
  return json(200, { data: { token: signJwt(user, randomUUID()), user: publicUser(user) } });
}

async function signup(req: Request): Promise<Response> {
  const body = await readJson(req);
  if (!body || typeof body.email !== "string" || typeof body.password !== "string") {
    return json(400, { error: { code: "VALIDATION_INVALID_FIELD", message: "email and password required" } });
  }
  const email = body.email.trim().toLowerCase();
  const password = body.password;
  const length = [...password].length;
  if (!/^[^@\s]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(email) || length < 8 || length > 128) {
    return json(400, { error: { code: "VALIDATION_INVALID_FIELD", message: "invalid email or password" } });
  }
  const hash = await Bun.password.hash(password, ARGON); // outside the transaction
  const now = new Date().toISOString();
  const id = randomUUID();
  const sid = randomUUID();
  const refreshToken = newRefreshToken();
  try {
    signupTx({ id, email, hash, now }, sha256(refreshToken), sid);
  } catch (e) {
    if (String(e).includes("UNIQUE")) {
      return json(409, { error: { code: "VALIDATION_DUPLICATE", message: "email taken", field: "email" } });
    }
    throw e;
  }
  const user = userById.get(id)!;
  return json(201, { data: { token: signJwt(user, sid), refresh_token: refreshToken, user: publicUser(user) } });
}

async function refresh(req: Request): Promise<Response> {
  const body = await readJson(req);
  if (!body || typeof body.refresh_token !== "string" || !body.refresh_token.startsWith("rt_")) {
    return json(400, { error: { code: "VALIDATION_INVALID_FIELD", message: "refresh_token required" } });
  }
  const successor = newRefreshToken();
  const row = refreshTx(sha256(body.refresh_token), sha256(successor));
  if (!row) return unauthorized("AUTH_INVALID_REFRESH_TOKEN");
  const token = signJwt(
    { id: row.user_id, email: row.email, email_verified: row.email_verified, password_version: row.password_version },
    row.session_id,
  );
  return json(200, { data: { token, refresh_token: successor } });
}

const server = Bun.serve({
  hostname: host,
  port,
  routes: {
    "/healthz": { GET: () => json(200, { data: { status: "ok" } }) },
    "/me": { GET: me },
    "/login": { POST: login },
    "/signup": { POST: signup },
    "/refresh": { POST: refresh },
  },
  fetch: () => json(404, { error: { code: "NOT_FOUND", message: "not found" } }),
  error: () => json(500, { error: { code: "INTERNAL_ERROR", message: "internal error" } }),
});

console.log(`bare reference listening on http://${server.hostname}:${server.port}`);

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    server.stop(true);
    db.close();
    process.exit(0);
  });
}
