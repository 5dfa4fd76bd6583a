import { randomBytes as nodeRandomBytes } from "node:crypto";

/** Injectable source of randomness (tests may replace it). */
export type RandomBytes = (n: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/**
 * Random bytes behind every secret token the server makes (refresh tokens, link-token ids,
 * console sessions, project keys): 256 bits, SPEC 7.3's minimum.
 */
export const SECRET_TOKEN_BYTES = 32;

/**
 * The text of a 32-byte value in base64url without padding (43 characters): a secret token, or an
 * HMAC-SHA256 of one. A regex source, to anchor with a prefix where a token has one.
 */
export const TOKEN_TEXT_PATTERN = `[A-Za-z0-9_-]{${Math.ceil((SECRET_TOKEN_BYTES * 4) / 3)}}`;

/** A URL-safe random token of `byteLength` random bytes (>= 32 for anything secret). */
export function randomToken(random: RandomBytes, byteLength = SECRET_TOKEN_BYTES): string {
  return toBase64Url(random(byteLength));
}

/** RFC 4122 version 4 UUID from the injected randomness. */
export function uuidV4(random: RandomBytes): string {
  const b = random(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
