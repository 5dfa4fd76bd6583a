import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { hitRateLimit, peekRateLimit, rateLimitedError } from "../../http/rate-limit.ts";
import { normalizeOriginEntry } from "../../config/origins.ts";
import type { KeyKind } from "../../db/keys.ts";

/**
 * Checks the admin key. Failures are counted per client IP (SPEC 9.5) with one atomic increment
 * each, so parallel wrong guesses cannot slip past the limit; past it, every attempt — even with
 * the right key — is refused with 429 until the window ends.
 */
export function authorizeAdmin(p: ProjectRuntime, presented: string | null, ip: string): void {
  const now = p.deps.now();
  const before = peekRateLimit(p, "admin_key_failures_per_ip", ip, now);
  if (before && !before.allowed) throw rateLimitedError(before);
  if (presented === null || presented === "") throw new ApiError("ADMIN_KEY_REQUIRED");
  if (p.keys.matches("admin", presented)) return;
  p.log.event("admin_key_failed", { ip });
  const after = hitRateLimit(p, "admin_key_failures_per_ip", ip, now);
  if (after && !after.allowed) throw rateLimitedError(after);
  throw new ApiError("ADMIN_KEY_INVALID");
}

export function getRedirectOrigins(p: ProjectRuntime): string[] {
  return p.redirectOrigins();
}

/** Who made an admin change (ip, user agent, request id), for the security event and audit row. */
type Who = Record<string, unknown>;

export function putRedirectOrigins(p: ProjectRuntime, body: Record<string, unknown>, who: Who = {}): string[] {
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
  p.setRedirectOrigins(out);
  p.log.event("redirect_origins_changed", { count: out.length, ...who });
  return out;
}

export function rotateKeys(p: ProjectRuntime, body: Record<string, unknown>, who: Who = {}): { admin_key?: string; public_key?: string } {
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
  const keys = p.keys.rotate(kinds, new Date(p.deps.now()).toISOString());
  p.log.event("keys_rotated", { kinds, ...who });
  const out: { admin_key?: string; public_key?: string } = {};
  if (keys.admin) out.admin_key = keys.admin;
  if (keys.public) out.public_key = keys.public;
  return out;
}

export function rotateJwtSecret(p: ProjectRuntime, who: Who = {}): void {
  p.jwt.rotate(new Date(p.deps.now()).toISOString());
  p.log.event("jwt_secret_rotated", who);
}
