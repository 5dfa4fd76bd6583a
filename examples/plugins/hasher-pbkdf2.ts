/**
 * Hasher plugin `pbkdf2`: PBKDF2-HMAC-SHA-256, for users imported from a system that stored such
 * hashes. Configure another hasher (argon2id) for new passwords and keep this file in the plugins
 * directory: imported users log in with their old hash and are rehashed to the configured one.
 *
 * Hash format: $pbkdf2-sha256$i=<iterations>$<salt, base64 without padding>$<key, base64 without padding>
 *
 * Load it with `latchkey serve --plugins DIR`; test it with
 * `latchkey plugin test hasher-pbkdf2.ts --options '{"iterations":1000}' --other-options '{"iterations":2000}'`.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import type { PasswordHasher, PluginApi } from "./latchkey-plugin";

const PREFIX = "$pbkdf2-sha256$";
const HASH = /^\$pbkdf2-sha256\$i=(\d{1,8})\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{43})$/;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const MAX_ITERATIONS = 10_000_000;

const b64 = (buf: Buffer): string => buf.toString("base64").replace(/=+$/, "");

/** Buffer.from(…, "base64") skips junk silently; accept only the canonical encoding. */
function unb64(s: string): Buffer | null {
  const buf = Buffer.from(s, "base64");
  return b64(buf) === s ? buf : null;
}

function derive(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, "utf8"), salt, iterations, KEY_BYTES, "sha256", (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function parse(hash: string): { iterations: number; salt: Buffer; key: Buffer } | null {
  const m = HASH.exec(hash);
  if (m === null) return null;
  const iterations = Number(m[1]);
  const salt = unb64(m[2]);
  const key = unb64(m[3]);
  // A damaged hash must not make the server spin: the iteration count is bounded.
  if (salt === null || key === null || key.length !== KEY_BYTES || iterations < 1 || iterations > MAX_ITERATIONS) return null;
  return { iterations, salt, key };
}

export default ({ defineHasher, v }: PluginApi) =>
  defineHasher({
    id: "pbkdf2",
    optionsSchema: v.optional(
      v.strictObject({
        /** OWASP (2023): 600000 for PBKDF2-HMAC-SHA-256. */
        iterations: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1000), v.maxValue(MAX_ITERATIONS)), 600_000),
      }),
      {},
    ),
    create: ({ iterations }): PasswordHasher => ({
      id: "pbkdf2",
      async hash(password) {
        // HMAC pads a key shorter than its block with zero bytes, so "x" and "x\0" would be one
        // password: one ending in NUL is never hashed and never matches.
        if (password.endsWith("\u0000")) throw new Error("pbkdf2 refuses a password that ends with NUL");
        const salt = randomBytes(SALT_BYTES);
        return `${PREFIX}i=${iterations}$${b64(salt)}$${b64(await derive(password, salt, iterations))}`;
      },
      async verify(password, hash) {
        const parsed = parse(hash);
        if (parsed === null || password.endsWith("\u0000")) return false;
        const key = await derive(password, parsed.salt, parsed.iterations);
        return timingSafeEqual(key, parsed.key);
      },
      canVerify: (hash) => hash.startsWith(PREFIX),
      // Rehash only upward: a hash with fewer iterations than configured (never a stronger one).
      needsRehash: (hash) => (parse(hash)?.iterations ?? iterations) < iterations,
    }),
  });
