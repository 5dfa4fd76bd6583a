/** Password hasher `scrypt` (node:crypto), self-describing format `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`. */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import * as v from "valibot";
import { defineHasher } from "../../src/plugin-api.ts";
import type { PasswordHasher, PasswordHasherFactory } from "../../src/plugin-api.ts";

export const SCRYPT_MIN_LOG_N = 10;
export const SCRYPT_MAX_LOG_N = 20;
export const SCRYPT_MAX_BLOCK_SIZE = 32;
export const SCRYPT_MAX_PARALLELIZATION = 16;
/** Upper bound of the memory one derivation may use (128 * N * r bytes). */
export const SCRYPT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** OWASP: N=2^17, r=8, p=1 or an equivalent N * r * p. */
const RECOMMENDED_MIN_WORK = 2 ** 17 * 8;

const PREFIX = "$scrypt$";
const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

const intInRange = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const optionsSchema = v.optional(
  v.pipe(
    v.strictObject({
      /** log2 of the CPU/memory cost N. */
      log_n: v.optional(intInRange(SCRYPT_MIN_LOG_N, SCRYPT_MAX_LOG_N), 17),
      /** r */
      block_size: v.optional(intInRange(1, SCRYPT_MAX_BLOCK_SIZE), 8),
      /** p */
      parallelization: v.optional(intInRange(1, SCRYPT_MAX_PARALLELIZATION), 1),
    }),
    v.check(
      (o) => memoryBytes(o.log_n, o.block_size) <= SCRYPT_MAX_MEMORY_BYTES,
      "log_n and block_size need more than 1 GiB of memory per hash (128 * 2^log_n * block_size bytes)",
    ),
  ),
  {},
);

export type ScryptOptions = v.InferOutput<typeof optionsSchema>;

interface ScryptParams {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

interface ParsedScryptHash extends ScryptParams {
  readonly salt: Buffer;
  readonly key: Buffer;
}

function memoryBytes(logN: number, r: number): number {
  return 128 * 2 ** logN * r;
}

function isWithinBounds(p: ScryptParams): boolean {
  return (
    p.logN >= 1 &&
    p.logN <= SCRYPT_MAX_LOG_N &&
    p.r >= 1 &&
    p.r <= SCRYPT_MAX_BLOCK_SIZE &&
    p.p >= 1 &&
    p.p <= SCRYPT_MAX_PARALLELIZATION &&
    memoryBytes(p.logN, p.r) <= SCRYPT_MAX_MEMORY_BYTES
  );
}

function encodeB64(buf: Buffer): string {
  return buf.toString("base64").replace(/=+$/, "");
}

/** Buffer.from(…, "base64") skips junk silently; only a canonical encoding is accepted. */
function decodeB64(s: string): Buffer | null {
  const buf = Buffer.from(s, "base64");
  return encodeB64(buf) === s ? buf : null;
}

function parseScryptHash(hash: string): ParsedScryptHash | null {
  const m = HASH_PATTERN.exec(hash);
  if (m === null) return null;
  const salt = decodeB64(m[4]);
  const key = decodeB64(m[5]);
  if (salt === null || key === null || salt.length === 0 || salt.length > 64 || key.length !== KEY_LENGTH) return null;
  const parsed = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]), salt, key };
  return isWithinBounds(parsed) ? parsed : null;
}

function formatScryptHash(params: ScryptParams, salt: Buffer, key: Buffer): string {
  return `${PREFIX}ln=${params.logN},r=${params.r},p=${params.p}$${encodeB64(salt)}$${encodeB64(key)}`;
}

/** The asynchronous scrypt runs off the main thread; the sync variant would block every request. */
function deriveKey(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  // Node's default maxmem (32 MiB) is below the default parameters' 128 MiB; allow what these
  // parameters need (BoringSSL counts 128 * r * (N + p + 2) bytes) plus slack.
  const maxmem = 128 * params.r * (N + params.p + 2) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    try {
      scrypt(Buffer.from(password, "utf8"), salt, KEY_LENGTH, { N, r: params.r, p: params.p, maxmem }, (err, key) => {
        if (err) reject(err);
        else resolve(key);
      });
    } catch (err) {
      // Invalid parameters throw synchronously instead of reaching the callback.
      reject(err);
    }
  });
}

/**
 * scrypt's PBKDF2-HMAC pads a key shorter than 64 bytes with zero bytes, so "x" and "x\0" are
 * one key: a password ending in NUL is never hashed and never matches.
 */
const TRAILING_NUL = "scrypt refuses a password that ends with NUL (HMAC would treat it as the shorter password)";

const scryptHasher: PasswordHasherFactory<typeof optionsSchema> = defineHasher({
  id: "scrypt",
  optionsSchema,
  create(options, ctx): PasswordHasher {
    const params: ScryptParams = { logN: options.log_n, r: options.block_size, p: options.parallelization };
    if (2 ** params.logN * params.r * params.p < RECOMMENDED_MIN_WORK) {
      ctx.log("warn", "scrypt parameters are below the OWASP recommendation; use them for tests only", { ...options });
    }
    return {
      id: "scrypt",
      async hash(password: string): Promise<string> {
        if (password.endsWith("\u0000")) throw new Error(TRAILING_NUL);
        const salt = randomBytes(SALT_LENGTH);
        const key = await deriveKey(password, salt, params);
        return formatScryptHash(params, salt, key);
      },
      async verify(password: string, hash: string): Promise<boolean> {
        const parsed = parseScryptHash(hash);
        if (parsed === null || password.endsWith("\u0000")) return false;
        try {
          const key = await deriveKey(password, parsed.salt, parsed);
          return timingSafeEqual(key, parsed.key);
        } catch {
          return false;
        }
      },
      canVerify(hash: string): boolean {
        return hash.startsWith(PREFIX);
      },
      // Only ever upward (SPEC 9.2): at least as strong in every parameter and stronger in one.
      needsRehash(hash: string): boolean {
        const parsed = parseScryptHash(hash);
        if (parsed === null) return true;
        const mine = [params.logN, params.r, params.p, SALT_LENGTH];
        const theirs = [parsed.logN, parsed.r, parsed.p, parsed.salt.length];
        return mine.every((m, i) => m >= theirs[i]) && mine.some((m, i) => m > theirs[i]);
      },
    };
  },
});

export default scryptHasher;
