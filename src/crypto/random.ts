import { randomBytes as nodeRandomBytes } from "node:crypto";

/** Injectable source of randomness (tests may replace it). */
export type RandomBytes = (n: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/** A URL-safe random token of `byteLength` random bytes (>= 32 for anything secret). */
export function randomToken(random: RandomBytes, byteLength = 32): string {
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
