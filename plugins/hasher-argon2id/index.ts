/** Password hasher `argon2id` (Bun.password, PHC string format, p = 1). The default hasher. */
import * as v from "valibot";
import { defineHasher } from "../../src/plugin-api.ts";
import type { PasswordHasher, PasswordHasherFactory } from "../../src/plugin-api.ts";

/** Bun refuses memoryCost below 8 KiB and timeCost below 1; those are the floors of the schema. */
export const ARGON2ID_MIN_MEMORY_COST_KIB = 8;
export const ARGON2ID_MAX_MEMORY_COST_KIB = 4 * 1024 * 1024; // 4 GiB
export const ARGON2ID_MIN_TIME_COST = 1;
export const ARGON2ID_MAX_TIME_COST = 100;

/** OWASP's weakest recommended argon2id pair is m=7168 KiB, t=5; cheaper settings get a warning. */
const RECOMMENDED_MIN_COST_PRODUCT = 7168 * 5;

const PREFIX = "$argon2id$";
const VERSION = 19;
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, salt and hash in unpadded standard base64.
const PHC_PATTERN = /^\$argon2id\$v=(\d{1,3})\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;

const costSchema = (min: number, max: number, fallback: number) =>
  v.optional(v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max)), fallback);

const optionsSchema = v.optional(
  v.strictObject({
    /** KiB. */
    memory_cost: costSchema(ARGON2ID_MIN_MEMORY_COST_KIB, ARGON2ID_MAX_MEMORY_COST_KIB, 19456),
    time_cost: costSchema(ARGON2ID_MIN_TIME_COST, ARGON2ID_MAX_TIME_COST, 2),
  }),
  {},
);

export type Argon2idOptions = v.InferOutput<typeof optionsSchema>;

interface Argon2idParams {
  readonly version: number;
  readonly memoryCostKib: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

function parseArgon2idHash(hash: string): Argon2idParams | null {
  const m = PHC_PATTERN.exec(hash);
  if (m === null) return null;
  return { version: Number(m[1]), memoryCostKib: Number(m[2]), timeCost: Number(m[3]), parallelism: Number(m[4]) };
}

/**
 * Stored hashes come from our own database, but a hash whose parameters lie outside what this
 * plugin would ever configure is treated as malformed rather than spent CPU and memory on.
 */
function isWithinBounds(p: Argon2idParams): boolean {
  return (
    p.version === VERSION &&
    p.memoryCostKib >= ARGON2ID_MIN_MEMORY_COST_KIB &&
    p.memoryCostKib <= ARGON2ID_MAX_MEMORY_COST_KIB &&
    p.timeCost >= ARGON2ID_MIN_TIME_COST &&
    p.timeCost <= ARGON2ID_MAX_TIME_COST &&
    p.parallelism >= 1 &&
    p.parallelism <= 255
  );
}

/** True when `a` is at least `b` in every cost and above it in one. */
function isStrongerThan(a: { memoryCostKib: number; timeCost: number }, b: { memoryCostKib: number; timeCost: number }): boolean {
  return a.memoryCostKib >= b.memoryCostKib && a.timeCost >= b.timeCost && (a.memoryCostKib > b.memoryCostKib || a.timeCost > b.timeCost);
}

const argon2idHasher: PasswordHasherFactory<typeof optionsSchema> = defineHasher({
  id: "argon2id",
  optionsSchema,
  create(options, ctx): PasswordHasher {
    const { memory_cost: memoryCost, time_cost: timeCost } = options;
    if (memoryCost * timeCost < RECOMMENDED_MIN_COST_PRODUCT) {
      ctx.log("warn", "argon2id parameters are below the OWASP recommendation; use them for tests only", {
        memory_cost: memoryCost,
        time_cost: timeCost,
      });
    }
    const canVerify = (hash: string): boolean => hash.startsWith(PREFIX);
    return {
      id: "argon2id",
      hash(password: string): Promise<string> {
        return Bun.password.hash(password, { algorithm: "argon2id", memoryCost, timeCost });
      },
      async verify(password: string, hash: string): Promise<boolean> {
        const params = parseArgon2idHash(hash);
        if (params === null || !isWithinBounds(params)) return false;
        try {
          // The explicit algorithm stops Bun from dispatching to another format on its own.
          return await Bun.password.verify(password, hash, "argon2id");
        } catch {
          return false;
        }
      },
      canVerify,
      // Only ever upward (SPEC 9.2): lowering memory_cost or time_cost must not rewrite stronger
      // hashes at the weaker setting, and a mix (more memory, fewer passes) is left alone.
      needsRehash(hash: string): boolean {
        const params = parseArgon2idHash(hash);
        if (params === null || params.version !== VERSION) return true;
        return isStrongerThan({ memoryCostKib: memoryCost, timeCost }, params);
      },
    };
  },
});

export default argon2idHasher;
