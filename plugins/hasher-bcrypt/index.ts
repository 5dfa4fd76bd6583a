/**
 * Password hasher `bcrypt` (Bun.password). New hashes are pre-hashed:
 * `$bcrypt-hmac-sha256$v=1$2b$<cost>$...` is bcrypt of base64(HMAC-SHA-256(PREHASH_KEY, password)).
 * bcrypt itself reads its key as a C string and cycles through it, so a password with a NUL
 * (`"Tr0ub4dor\0Tr0ub4dor"`) would match its prefix (`"Tr0ub4dor"`), and only the first 72 bytes
 * count. The 44-character base64 digest has neither problem. Plain `$2a$`/`$2b$`/`$2y$` hashes
 * (imported from elsewhere) still verify, except for passwords containing NUL, and are replaced
 * by the pre-hashed form at the next login.
 */
import { createHmac } from "node:crypto";
import * as v from "valibot";
import { defineHasher } from "../../src/plugin-api.ts";
import type { PasswordHasher, PasswordHasherFactory } from "../../src/plugin-api.ts";

/** Bun accepts costs 4..31 (log2 of the number of rounds). */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
/** OWASP: a work factor of at least 10. */
const RECOMMENDED_MIN_COST = 10;

// $2a$, $2b$ and $2y$ share one algorithm; $2x$ (the buggy crypt_blowfish variant) is not ours.
const PREFIX_PATTERN = /^\$2[aby]\$/;
const MCF_PATTERN = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/** Versioned marker of the pre-hashed form; the plain bcrypt string follows it. */
export const BCRYPT_PREHASH_PREFIX = "$bcrypt-hmac-sha256$v=1";
/** A fixed, public key: the HMAC only maps any password to 44 safe bytes (no secret, hashes stay portable). */
const PREHASH_KEY = "latchkey bcrypt pre-hash v1";

function prehash(password: string): string {
  return createHmac("sha256", PREHASH_KEY).update(password, "utf8").digest("base64");
}

/** The plain bcrypt string inside a stored hash, and whether it was pre-hashed. */
function splitStored(hash: string): { mcf: string; prehashed: boolean } {
  return hash.startsWith(`${BCRYPT_PREHASH_PREFIX}$`)
    ? { mcf: hash.slice(BCRYPT_PREHASH_PREFIX.length), prehashed: true }
    : { mcf: hash, prehashed: false };
}

const optionsSchema = v.optional(
  v.strictObject({
    cost: v.optional(v.pipe(v.number(), v.integer(), v.minValue(BCRYPT_MIN_COST), v.maxValue(BCRYPT_MAX_COST)), 12),
  }),
  {},
);

export type BcryptOptions = v.InferOutput<typeof optionsSchema>;

function parseBcryptCost(hash: string): number | null {
  const m = MCF_PATTERN.exec(hash);
  if (m === null) return null;
  const cost = Number(m[1]);
  return cost >= BCRYPT_MIN_COST && cost <= BCRYPT_MAX_COST ? cost : null;
}

const bcryptHasher: PasswordHasherFactory<typeof optionsSchema> = defineHasher({
  id: "bcrypt",
  optionsSchema,
  create(options, ctx): PasswordHasher {
    const { cost } = options;
    if (cost < RECOMMENDED_MIN_COST) {
      ctx.log("warn", "bcrypt cost is below the OWASP recommendation of 10; use it for tests only", { cost });
    }
    return {
      id: "bcrypt",
      async hash(password: string): Promise<string> {
        return BCRYPT_PREHASH_PREFIX + (await Bun.password.hash(prehash(password), { algorithm: "bcrypt", cost }));
      },
      async verify(password: string, hash: string): Promise<boolean> {
        const { mcf, prehashed } = splitStored(hash);
        if (parseBcryptCost(mcf) === null) return false;
        // A plain hash cannot tell "a\0b" from "a": refuse NUL rather than let a variant in.
        if (!prehashed && password.includes("\u0000")) return false;
        try {
          // The explicit algorithm stops Bun from dispatching to another format on its own.
          return await Bun.password.verify(prehashed ? prehash(password) : password, mcf, "bcrypt");
        } catch {
          return false;
        }
      },
      canVerify(hash: string): boolean {
        return PREFIX_PATTERN.test(splitStored(hash).mcf);
      },
      // Upward only (SPEC 9.2): a lower cost moves to this one, and a plain hash to the pre-hashed
      // form at the same or a higher cost (never down to a cheaper one).
      needsRehash(hash: string): boolean {
        const { mcf, prehashed } = splitStored(hash);
        const stored = parseBcryptCost(mcf);
        return stored === null || stored < cost || (!prehashed && stored === cost);
      },
    };
  },
});

export default bcryptHasher;
