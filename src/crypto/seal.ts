import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * AES-256-GCM sealing of small secrets (JWT secrets) under a key derived from the server key,
 * so that a copied project database alone does not reveal them.
 * Layout: 12-byte nonce | 16-byte tag | ciphertext.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Uint8Array {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([iv, c.getAuthTag(), ct]));
}

/** Opens a sealed value; throws when the key is wrong or the data was altered. */
export function unseal(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array {
  const buf = Buffer.from(sealed);
  const d = createDecipheriv("aes-256-gcm", key, buf.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(buf.subarray(12, 28));
  return new Uint8Array(Buffer.concat([d.update(buf.subarray(28)), d.final()]));
}
