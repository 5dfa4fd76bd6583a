/**
 * Contract every password hasher plugin must meet. A plugin's test calls `runHasherContract`
 * with real instances at cheap parameters; samples of the other formats come from the other
 * built-in hashers, also at cheap parameters.
 */
import { describe, expect, it } from "bun:test";
import { parse } from "valibot";
import argon2idHasher from "../../plugins/hasher-argon2id/index.ts";
import bcryptHasher from "../../plugins/hasher-bcrypt/index.ts";
import scryptHasher from "../../plugins/hasher-scrypt/index.ts";
import type { PasswordHasher, PasswordHasherFactory, PluginContext } from "../../src/plugin-api.ts";

export interface RecordedLog {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly msg: string;
  readonly fields?: Record<string, unknown>;
}

/** A plugin context that records log lines instead of printing them. */
export function createTestPluginContext(baseDir = process.cwd()): PluginContext & { readonly logs: RecordedLog[] } {
  const logs: RecordedLog[] = [];
  return {
    baseDir,
    logs,
    log(level, msg, fields): void {
      logs.push({ level, msg, fields });
    },
  };
}

/** Cheapest parameters each built-in hasher accepts; for tests only. */
export const CHEAP_HASHER_OPTIONS = {
  argon2id: { memory_cost: 8, time_cost: 1 },
  bcrypt: { cost: 4 },
  scrypt: { log_n: 10 },
} as const;

export type BuiltinHasherId = keyof typeof CHEAP_HASHER_OPTIONS;

const FACTORIES: Record<BuiltinHasherId, PasswordHasherFactory> = {
  argon2id: argon2idHasher,
  bcrypt: bcryptHasher,
  scrypt: scryptHasher,
};

/** Creates a built-in hasher through its options schema, as the config loader does. */
export function createHasher(id: BuiltinHasherId, options: unknown = CHEAP_HASHER_OPTIONS[id]): PasswordHasher {
  const factory = FACTORIES[id];
  return factory.create(parse(factory.optionsSchema, options), createTestPluginContext());
}

/** Real instances of all built-in hashers at cheap parameters. */
export function createCheapHashers(): Record<BuiltinHasherId, PasswordHasher> {
  return { argon2id: createHasher("argon2id"), bcrypt: createHasher("bcrypt"), scrypt: createHasher("scrypt") };
}

/** Breaks `hash` in ways a stored value could be damaged; none of them may verify or throw. */
function malformedVariants(hash: string): string[] {
  const lastSep = hash.lastIndexOf("$");
  return [
    "",
    "not a hash",
    hash.slice(0, 8),
    hash.slice(0, -1),
    hash.slice(0, lastSep + 1),
    `${hash}$extra`,
    `${hash}=`,
    hash.replace(/\d+/, "999999999"),
    hash.replace(/\d+/, "-1"),
    `${hash.slice(0, lastSep + 1)}!!!!${hash.slice(lastSep + 5)}`,
    hash.split("$").join("$$"),
    `\u0000${hash}`,
  ];
}

/**
 * Registers the contract for one hasher.
 * @param name the plugin id; the built-in hashers with other ids provide the "other formats".
 * @param makeHasher a real instance at cheap parameters.
 * @param makeOtherParamsHasher the same algorithm with stronger (still cheap) parameters.
 */
export function runHasherContract(
  name: string,
  makeHasher: () => PasswordHasher,
  makeOtherParamsHasher: () => PasswordHasher,
): void {
  describe(`hasher contract: ${name}`, () => {
    const hasher = makeHasher();
    const otherParams = makeOtherParamsHasher();
    const others = Object.entries(createCheapHashers()).filter(([id]) => id !== name);

    it("carries the plugin id", () => {
      expect(hasher.id).toBe(name);
      expect(otherParams.id).toBe(name);
    });

    it("verifies the password it hashed", async () => {
      const hash = await hasher.hash("correct horse battery staple");
      expect(hash).not.toContain("correct horse");
      expect(await hasher.verify("correct horse battery staple", hash)).toBe(true);
    });

    it("salts: the same password hashes to two different strings that both verify", async () => {
      const [a, b] = await Promise.all([hasher.hash("same password"), hasher.hash("same password")]);
      expect(a).not.toBe(b);
      expect(await hasher.verify("same password", a)).toBe(true);
      expect(await hasher.verify("same password", b)).toBe(true);
    });

    it("rejects a wrong password", async () => {
      const hash = await hasher.hash("correct horse battery staple");
      expect(await hasher.verify("correct horse battery stapler", hash)).toBe(false);
      expect(await hasher.verify("x", hash)).toBe(false);
    });

    it("round-trips a non-ASCII password", async () => {
      const password = "pässwörd 密码 🔑 Ωmega";
      const hash = await hasher.hash(password);
      expect(await hasher.verify(password, hash)).toBe(true);
      expect(await hasher.verify("passwort 密码 🔑 Ωmega", hash)).toBe(false);
    });

    it("verifies the password exactly: no trimming, case folding or Unicode normalization", async () => {
      const hash = await hasher.hash("Password1 ");
      expect(await hasher.verify("Password1 ", hash)).toBe(true);
      expect(await hasher.verify("Password1", hash)).toBe(false);
      expect(await hasher.verify(" Password1 ", hash)).toBe(false);
      expect(await hasher.verify("password1 ", hash)).toBe(false);
      expect(await hasher.verify("PASSWORD1 ", hash)).toBe(false);

      const composed = "caf\u00e9-secret";
      const decomposed = "cafe\u0301-secret";
      const nfcHash = await hasher.hash(composed);
      expect(await hasher.verify(composed, nfcHash)).toBe(true);
      expect(await hasher.verify(decomposed, nfcHash)).toBe(false);
    });

    it("counts every byte: past 72 bytes (bcrypt's limit) and after a NUL", async () => {
      const long = `${"a".repeat(72)}-tail-1`;
      const longHash = await hasher.hash(long);
      expect(await hasher.verify(long, longHash)).toBe(true);
      expect(await hasher.verify(`${"a".repeat(72)}-tail-2`, longHash)).toBe(false);

      const withNul = "secret\u0000suffix";
      const nulHash = await hasher.hash(withNul);
      expect(await hasher.verify(withNul, nulHash)).toBe(true);
      expect(await hasher.verify("secret", nulHash)).toBe(false);
      expect(await hasher.verify("secret\u0000other!", nulHash)).toBe(false);

      // bcrypt cycles through a C-string key: "x\0x" must not match a hash of "x".
      const cyclicHash = await hasher.hash("Tr0ub4dor");
      expect(await hasher.verify("Tr0ub4dor\u0000Tr0ub4dor", cyclicHash)).toBe(false);
      expect(await hasher.verify("Tr0ub4dor\u0000", cyclicHash)).toBe(false);
    });

    it("claims its own hashes with canVerify, whatever the parameters", async () => {
      expect(hasher.canVerify(await hasher.hash("some password"))).toBe(true);
      expect(hasher.canVerify(await otherParams.hash("some password"))).toBe(true);
    });

    it("verifies a hash made with other parameters (hashes are self-describing)", async () => {
      const hash = await otherParams.hash("some password");
      expect(await hasher.verify("some password", hash)).toBe(true);
      expect(await hasher.verify("other password", hash)).toBe(false);
    });

    for (const [otherId, other] of others) {
      it(`does not claim a ${otherId} hash and answers false for it without throwing`, async () => {
        const foreign = await other.hash("shared password");
        expect(hasher.canVerify(foreign)).toBe(false);
        expect(await hasher.verify("shared password", foreign)).toBe(false);
        expect(other.canVerify(await hasher.hash("shared password"))).toBe(false);
      });
    }

    it("needs no rehash for a hash made with its own parameters", async () => {
      expect(hasher.needsRehash).toBeFunction();
      expect(hasher.needsRehash?.(await hasher.hash("some password"))).toBe(false);
    });

    it("needs a rehash toward stronger parameters only, never toward weaker ones (SPEC 9.2)", async () => {
      expect(otherParams.needsRehash?.(await hasher.hash("some password"))).toBe(true);
      expect(hasher.needsRehash?.(await otherParams.hash("some password"))).toBe(false);
    });

    it("answers false, without throwing, for malformed hashes", async () => {
      const hash = await hasher.hash("some password");
      const variants = malformedVariants(hash);
      expect(new Set(variants).has(hash)).toBe(false);
      const results = await Promise.all(
        variants.map(async (bad) => {
          try {
            return [bad, await hasher.verify("some password", bad)] as const;
          } catch (err) {
            return [bad, `threw ${String(err)}`] as const;
          }
        }),
      );
      expect(results).toEqual(variants.map((bad) => [bad, false] as const));
    });
  });
}
