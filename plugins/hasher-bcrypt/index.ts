/** Password hasher `bcrypt` (Bun.password, modular crypt format `$2b$<cost>$...`). */
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
      hash(password: string): Promise<string> {
        return Bun.password.hash(password, { algorithm: "bcrypt", cost });
      },
      async verify(password: string, hash: string): Promise<boolean> {
        if (parseBcryptCost(hash) === null) return false;
        try {
          // The explicit algorithm stops Bun from dispatching to another format on its own.
          return await Bun.password.verify(password, hash, "bcrypt");
        } catch {
          return false;
        }
      },
      canVerify(hash: string): boolean {
        return PREFIX_PATTERN.test(hash);
      },
      needsRehash(hash: string): boolean {
        return parseBcryptCost(hash) !== cost;
      },
    };
  },
});

export default bcryptHasher;
