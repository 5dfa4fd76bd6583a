import { settingsChangedHere, type ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { hitRateLimit, rateLimitedError } from "../../http/rate-limit.ts";
import { normalizeOriginEntry } from "../../config/origins.ts";
import { keyMatchesHash, readSeenHashes, type KeyKind } from "../../storage/keys.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { refuseUnknownFields } from "../users/columns.ts";

export type AuthorizeAdminDeps = Pick<ProjectRuntime, "config" | "deps" | "log" | "store">;
export type RotateJwtSecretDeps = Pick<ProjectRuntime, "deps" | "log" | "signer" | "store">;

const NO_FIELDS: ReadonlySet<string> = new Set();

/** What an authorized admin request saw: the stored key hashes at that moment (see rotateKeys). */
export interface AdminGrant {
  readonly seen: Readonly<Record<KeyKind, string | null>>;
}

/**
 * Checks the admin key. The right key is always accepted: behind a proxy every client shares
 * one IP, and wrong guesses from anyone must not lock the operator out. Only wrong keys are
 * counted per client IP (SPEC 9.5), with one atomic increment each, and past the limit they are
 * answered 429 instead of 401. (A key is 32 random bytes: the limit curbs noise, not guessing.)
 */
export async function authorizeAdmin(p: AuthorizeAdminDeps, presented: string | null, client: ClientMeta): Promise<AdminGrant> {
  const ip = client.ip;
  if (presented === null || presented === "") throw new ApiError("ADMIN_KEY_REQUIRED");
  const seen = await readSeenHashes(p.store.keys);
  // Checked against the hash just read, not read again: a rotation landing in between (another
  // request, another replica) must not refuse a key that was valid when `seen` was taken.
  if (keyMatchesHash("admin", presented, seen.admin)) return { seen };
  p.log.event("admin_key_failed", eventFields(client));
  const after = await hitRateLimit(p, "admin_key_failures_per_ip", ip, p.deps.now());
  if (after && !after.allowed) throw rateLimitedError(after);
  throw new ApiError("ADMIN_KEY_INVALID");
}

export function getRedirectOrigins(p: Pick<ProjectRuntime, "store">): Promise<string[]> {
  return p.store.settings.redirectOrigins();
}

export async function putRedirectOrigins(p: Pick<ProjectRuntime, "deps" | "log" | "refresh" | "store">, body: Record<string, unknown>, client: ClientMeta): Promise<string[]> {
  for (const k of Object.keys(body)) {
    if (k !== "allowed_redirect_origins") throw new ApiError("VALIDATION_UNKNOWN_FIELD", { field: k });
  }
  const list = body.allowed_redirect_origins;
  if (list === undefined) throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "allowed_redirect_origins" });
  if (!Array.isArray(list) || list.length > 100) {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field: "allowed_redirect_origins", message: "allowed_redirect_origins must be an array of at most 100 origins." });
  }
  const out: string[] = [];
  list.forEach((entry, i) => {
    const r = typeof entry === "string" ? normalizeOriginEntry(entry) : { ok: false as const, reason: "must be a string" };
    if (!r.ok) {
      throw new ApiError("VALIDATION_INVALID_FIELD", {
        field: `allowed_redirect_origins[${i}]`,
        message: `Entry ${i} is not a bare origin: ${r.reason}.`,
        suggestion: "Use origins like https://myapp.com or http://localhost:5173 (no path, query, wildcard or userinfo).",
      });
    }
    if (!out.includes(r.origin)) out.push(r.origin);
  });
  await p.store.settings.setRedirectOrigins(out, new Date(p.deps.now()).toISOString());
  await settingsChangedHere(p);
  p.log.event("redirect_origins_changed", { count: out.length, ...eventFields(client) });
  return out;
}

/**
 * POST /v1/rotate-keys. Rotations are serialized by the synchronous write; one that was
 * authorized before a concurrent rotation of the same key landed gets that rotation's key
 * instead of replacing it again, so every 200 carries the key that is stored.
 */
export async function rotateKeys(p: Pick<ProjectRuntime, "deps" | "log" | "refresh" | "store">, body: Record<string, unknown>, grant: AdminGrant, client: ClientMeta): Promise<{ admin_key?: string; public_key?: string }> {
  for (const k of Object.keys(body)) {
    if (k !== "admin" && k !== "public" && k !== "both") throw new ApiError("VALIDATION_UNKNOWN_FIELD", { field: k });
    if (typeof body[k] !== "boolean") throw new ApiError("VALIDATION_INVALID_FIELD", { field: k, message: `${k} must be true or false.` });
  }
  const kinds: KeyKind[] = [];
  if (body.admin === true || body.both === true) kinds.push("admin");
  if (body.public === true || body.both === true) kinds.push("public");
  if (kinds.length === 0) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", {
      field: "admin",
      message: "Say which keys to rotate.",
      suggestion: 'Send {"admin": true}, {"public": true} or {"both": true}.',
    });
  }
  const keys = await p.store.keys.rotate(kinds, new Date(p.deps.now()).toISOString(), { seen: grant.seen });
  await settingsChangedHere(p);
  p.log.event("keys_rotated", { kinds, ...eventFields(client) });
  const out: { admin_key?: string; public_key?: string } = {};
  if (keys.admin) out.admin_key = keys.admin;
  if (keys.public) out.public_key = keys.public;
  return out;
}

/**
 * The emergency switch (SPEC 6.3, 13): the HS256 secret, or every EdDSA / ES256 key pair, is
 * replaced at once; every access token signed before is refused, and the old public keys leave
 * the JWKS, so verifiers refuse them too once they refetch it. Takes no fields: anything in the
 * body is refused, as on every endpoint.
 */
export async function rotateJwtSecret(p: RotateJwtSecretDeps, body: Record<string, unknown>, client: ClientMeta): Promise<void> {
  refuseUnknownFields(body, NO_FIELDS, null);
  // SQLite: the signer writes the new secret (or key pair) synchronously on the project's
  // connection: run it while the store's transaction gate is held, so it never lands inside
  // another request's open transaction. PostgreSQL: the signer runs its own transaction.
  if (p.store.engine === "sqlite") await p.store.transaction(async () => p.signer.rotateNow(p.deps.now()));
  else await p.signer.rotateNow(p.deps.now());
  p.log.event("jwt_secret_rotated", eventFields(client));
}
