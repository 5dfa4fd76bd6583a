
/**
 * HS256 JWTs, hand-rolled on purpose: the header is compared byte-for-byte with the one we issue,
 * so `alg: none`, HS512, RS256 key confusion and any other header are refused before any crypto,
 * and each project's secret can rotate at runtime without re-creating a plugin instance.
 * EdDSA / ES256 tokens (SPEC 13) are in jwt-asymmetric.ts and share the claim checks below.
 */

// A type alias, not an interface: it must be assignable to TokenClaims' index signature.
export type AccessClaims = {
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
};

/** `auth.token_claims`: auth-table columns copied into the token as their JSON values (SPEC 13). */
export type CustomClaims = Readonly<Record<string, unknown>>;

/** What an access token carries: the claims of SPEC 7.1, then the project's custom claims. */
export type TokenClaims = AccessClaims & CustomClaims;

const HEADER_B64 = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
const UTF8 = new TextDecoder("utf-8", { fatal: true });

function hs256(secret: Uint8Array, data: string): string {
  // Bun's native HMAC: about twice as fast as node:crypto's createHmac on this hot path.
  return new Bun.CryptoHasher("sha256", secret).update(data).digest("base64url");
}

/** Constant-time comparison of two ASCII strings of equal length (the length is public: 43). */
function equalAscii(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function signJwt(claims: TokenClaims, secret: Uint8Array): string {
  const body = `${HEADER_B64}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${body}.${hs256(secret, body)}`;
}

export type JwtVerifyResult =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: "expired" | "invalid" };

export const INVALID: JwtVerifyResult = { ok: false, reason: "invalid" };

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
  // Comparing the canonical base64url text also refuses non-canonical encodings of the same bytes.
  if (!equalAscii(sigText, hs256(secret, token.slice(0, dot2)))) return INVALID;
  return checkClaims(token.slice(dot1 + 1, dot2), expect);
}

/** Decodes the payload of a token whose signature was verified and checks `aud`, `iss`, `exp` and claim types. */
export function checkClaims(payloadB64: string, expect: { aud: string; iss: string; nowMs: number }): JwtVerifyResult {
  let claims: unknown;
  try {
    claims = JSON.parse(UTF8.decode(Uint8Array.fromBase64(payloadB64, { alphabet: "base64url" })));
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
