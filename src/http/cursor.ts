/**
 * Opaque, tamper-evident pagination cursors (SPEC 12): base64url(JSON) + "." + an HMAC of it under
 * a per-project subkey of the server key, bound to what the cursor pages (`users`, `audit`). A
 * cursor edited by hand, cut, or made by another project (another key) is refused with
 * 400 VALIDATION_INVALID_FIELD (`field: "cursor"`).
 */
import { constantTimeEqualHex, deriveKey, hmacSha256 } from "../crypto/digest.ts";
import { toBase64Url } from "../crypto/random.ts";
import { ApiError } from "./errors.ts";

/** What a cursor is keyed by: the server key and the project id. */
export type CursorDeps = { readonly id: string; readonly deps: { readonly serverKey: Uint8Array } };

const keys = new WeakMap<object, Uint8Array>();
/** Far above any real cursor; a longer value is refused before any work. */
const MAX_CURSOR_LENGTH = 512;

function keyOf(p: CursorDeps): Uint8Array {
  let k = keys.get(p);
  if (!k) {
    k = deriveKey(p.deps.serverKey, `cursor:${p.id}`);
    keys.set(p, k);
  }
  return k;
}

function mac(p: CursorDeps, kind: string, body: string): string {
  return toBase64Url(hmacSha256(keyOf(p), `${kind}.${body}`));
}

export function encodeCursor(p: CursorDeps, kind: string, position: readonly (string | number)[]): string {
  const body = Buffer.from(JSON.stringify(position)).toString("base64url");
  return `${body}.${mac(p, kind, body)}`;
}

function badCursor(): ApiError {
  return new ApiError("VALIDATION_INVALID_FIELD", {
    field: "cursor",
    message: "The cursor is not one this endpoint issued.",
    suggestion: "Pass next_cursor exactly as a previous page returned it, or omit it to start over.",
  });
}

/** Checks the MAC and returns the position; `shape` checks each element's type. */
export function decodeCursor(p: CursorDeps, kind: string, raw: string, shape: readonly ("string" | "number")[]): (string | number)[] {
  if (raw.length > MAX_CURSOR_LENGTH) throw badCursor();
  const dot = raw.indexOf(".");
  if (dot <= 0) throw badCursor();
  const body = raw.slice(0, dot);
  if (!constantTimeEqualHex(raw.slice(dot + 1), mac(p, kind, body))) throw badCursor();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(value) || value.length !== shape.length || value.some((v, i) => typeof v !== shape[i])) throw badCursor();
  return value as (string | number)[];
}
