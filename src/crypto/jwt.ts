import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * HS256 JWTs, hand-rolled on purpose: the header is compared byte-for-byte with the one we issue,
 * so `alg: none`, HS512, RS256 key confusion and any other header are refused before any crypto,
 * and each project's secret can rotate at runtime without re-creating a plugin instance.
 */

export interface AccessClaims {
  sub: string;
  aud: string;
  iss: string;
  iat: number;
  exp: number;
  sid: string;
  /** Password version: a password change bumps it and refuses older tokens. */
  pv: number;
  email: string;
  email_verified: boolean;
}

const HEADER_B64 = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export function signJwt(claims: AccessClaims, secret: Uint8Array): string {
  const body = `${HEADER_B64}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const sig = createHmac("sha256", secret).update(body).digest("base64url");
  return `${body}.${sig}`;
}

export type JwtVerifyResult =
  | { ok: true; claims: AccessClaims }
  | { ok: false; reason: "expired" | "invalid" };

const INVALID: JwtVerifyResult = { ok: false, reason: "invalid" };

/**
 * Verifies signature, header, `aud`, `iss`, claim types and `exp` (no leeway: refused once the
 * current second reaches `exp`). Session, user and password-version checks are the caller's.
 */
export function verifyJwt(
  token: string,
  secret: Uint8Array,
  expect: { aud: string; iss: string; nowMs: number },
): JwtVerifyResult {
  const dot1 = token.indexOf(".");
  const dot2 = token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf(".", dot2 + 1) !== -1) return INVALID;
  if (token.slice(0, dot1) !== HEADER_B64) return INVALID;
  const sigText = token.slice(dot2 + 1);
  if (!/^[A-Za-z0-9_-]{43}$/.test(sigText)) return INVALID;
  const expected = createHmac("sha256", secret).update(token.slice(0, dot2)).digest();
  const given = Buffer.from(sigText, "base64url");
  // Rejects non-canonical encodings (a flipped last character that decodes to the same bytes).
  if (given.length !== 32 || given.toString("base64url") !== sigText || !timingSafeEqual(given, expected)) {
    return INVALID;
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), "base64url").toString("utf8"));
  } catch {
    return INVALID;
  }
  if (!isAccessClaims(claims)) return INVALID;
  if (claims.aud !== expect.aud || claims.iss !== expect.iss) return INVALID;
  if (Math.floor(expect.nowMs / 1000) >= claims.exp) return { ok: false, reason: "expired" };
  return { ok: true, claims };
}

function isAccessClaims(v: unknown): v is AccessClaims {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c.sub === "string" &&
    typeof c.aud === "string" &&
    typeof c.iss === "string" &&
    Number.isSafeInteger(c.iat) &&
    Number.isSafeInteger(c.exp) &&
    typeof c.sid === "string" &&
    Number.isSafeInteger(c.pv) &&
    typeof c.email === "string" &&
    typeof c.email_verified === "boolean"
  );
}
