import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** SHA-256 hex of a high-entropy secret (keys, refresh and link tokens): what the database stores. */
export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function hmacSha256(key: Uint8Array, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** Derives an independent subkey of the server key for one purpose. */
export function deriveKey(serverKey: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(hmacSha256(serverKey, `latchkey:${label}`));
}

/** Constant-time comparison of two hex digests (or any equal-length strings). */
export function constantTimeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  if (ab.length !== bb.length) {
    // Still spend a comparison so the length mismatch does not answer faster.
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}
