/**
 * Contract every password hasher plugin must meet (SPEC §10): round trip, wrong password, exact
 * comparison, `canVerify` across formats, `needsRehash`, malformed hashes. Samples of the other
 * formats come from the built-in hashers at cheap parameters.
 */
import { parse } from "valibot";
import argon2idHasher from "../../../plugins/hasher-argon2id/index.ts";
import bcryptHasher from "../../../plugins/hasher-bcrypt/index.ts";
import scryptHasher from "../../../plugins/hasher-scrypt/index.ts";
import type { PasswordHasher, PasswordHasherFactory, PluginContext } from "../../plugin-api.ts";
import { assert, assertEqual, callSafely, show, type ContractCheck } from "./check.ts";

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

/** A second cheap parameter set per built-in hasher, for the `needsRehash` checks. */
export const OTHER_CHEAP_HASHER_OPTIONS = {
  argon2id: { memory_cost: 16, time_cost: 1 },
  bcrypt: { cost: 5 },
  scrypt: { log_n: 11 },
} as const;

export type BuiltinHasherId = keyof typeof CHEAP_HASHER_OPTIONS;

export const BUILTIN_HASHER_FACTORIES: Record<BuiltinHasherId, PasswordHasherFactory> = {
  argon2id: argon2idHasher,
  bcrypt: bcryptHasher,
  scrypt: scryptHasher,
};

/** Creates a built-in hasher through its options schema, as the config loader does. */
export function createHasher(id: BuiltinHasherId, options: unknown = CHEAP_HASHER_OPTIONS[id]): PasswordHasher {
  const factory = BUILTIN_HASHER_FACTORIES[id];
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

async function expectVerify(hasher: PasswordHasher, password: string, hash: string, expected: boolean): Promise<void> {
  const got = await callSafely(() => hasher.verify(password, hash), `verify(${show(password)}, hash)`);
  assertEqual(got, expected, `verify(${show(password)}, ${show(hash)})`);
}

export interface HasherContractInput {
  /** The plugin id the instances must carry. */
  readonly name: string;
  /** A real instance (cheap parameters in tests). */
  readonly hasher: PasswordHasher;
  /** The same algorithm with other (still cheap) parameters; null when none was given. */
  readonly otherParams: PasswordHasher | null;
  /** Hashers of other formats, keyed by id; default: the built-ins other than `name`. */
  readonly others?: Readonly<Record<string, PasswordHasher>>;
}

const NEEDS_OTHER = "needs a second parameter set (--other-options JSON)";

/** The checks of the hasher contract, in order. */
export function hasherContractChecks(input: HasherContractInput): ContractCheck[] {
  const { name, hasher, otherParams } = input;
  const others = Object.entries(input.others ?? createCheapHashers()).filter(([id]) => id !== name);
  const checks: ContractCheck[] = [];
  const add = (checkName: string, run: () => Promise<void>, skip?: string): void => {
    checks.push(skip === undefined ? { name: checkName, run } : { name: checkName, run, skip });
  };
  const withOther = (checkName: string, run: (other: PasswordHasher) => Promise<void>): void => {
    add(checkName, async () => run(otherParams as PasswordHasher), otherParams === null ? NEEDS_OTHER : undefined);
  };

  add("carries the plugin id", async () => {
    assertEqual(hasher.id, name, "hasher.id");
    if (otherParams !== null) assertEqual(otherParams.id, name, "id of the instance with other parameters");
  });

  add("verifies the password it hashed", async () => {
    const hash = await callSafely(() => hasher.hash("correct horse battery staple"), "hash()");
    assert(typeof hash === "string", `hash() must resolve to a string, got ${show(hash)}`);
    assert(!hash.includes("correct horse"), "the hash contains the password in clear");
    await expectVerify(hasher, "correct horse battery staple", hash, true);
  });

  add("salts: the same password hashes to two different strings that both verify", async () => {
    const [a, b] = await Promise.all([hasher.hash("same password"), hasher.hash("same password")]);
    assert(a !== b, `two hashes of the same password are equal (${show(a)}): no random salt`);
    await expectVerify(hasher, "same password", a, true);
    await expectVerify(hasher, "same password", b, true);
  });

  add("rejects a wrong password", async () => {
    const hash = await hasher.hash("correct horse battery staple");
    await expectVerify(hasher, "correct horse battery stapler", hash, false);
    await expectVerify(hasher, "x", hash, false);
  });

  add("round-trips a non-ASCII password", async () => {
    const password = "pässwörd 密码 🔑 Ωmega";
    const hash = await hasher.hash(password);
    await expectVerify(hasher, password, hash, true);
    await expectVerify(hasher, "passwort 密码 🔑 Ωmega", hash, false);
  });

  add("verifies the password exactly: no trimming, case folding or Unicode normalization", async () => {
    const hash = await hasher.hash("Password1 ");
    await expectVerify(hasher, "Password1 ", hash, true);
    await expectVerify(hasher, "Password1", hash, false);
    await expectVerify(hasher, " Password1 ", hash, false);
    await expectVerify(hasher, "password1 ", hash, false);
    await expectVerify(hasher, "PASSWORD1 ", hash, false);

    const composed = "caf\u00e9-secret";
    const decomposed = "cafe\u0301-secret";
    const nfcHash = await hasher.hash(composed);
    await expectVerify(hasher, composed, nfcHash, true);
    await expectVerify(hasher, decomposed, nfcHash, false);
  });

  add("counts every byte: past 72 bytes (bcrypt's limit) and after a NUL", async () => {
    const long = `${"a".repeat(72)}-tail-1`;
    const longHash = await hasher.hash(long);
    await expectVerify(hasher, long, longHash, true);
    await expectVerify(hasher, `${"a".repeat(72)}-tail-2`, longHash, false);

    const withNul = "secret\u0000suffix";
    const nulHash = await hasher.hash(withNul);
    await expectVerify(hasher, withNul, nulHash, true);
    await expectVerify(hasher, "secret", nulHash, false);
    await expectVerify(hasher, "secret\u0000other!", nulHash, false);

    // bcrypt cycles through a C-string key: "x\0x" must not match a hash of "x".
    const cyclicHash = await hasher.hash("Tr0ub4dor");
    await expectVerify(hasher, "Tr0ub4dor\u0000Tr0ub4dor", cyclicHash, false);
    await expectVerify(hasher, "Tr0ub4dor\u0000", cyclicHash, false);
  });

  add("claims its own hashes with canVerify, whatever the parameters", async () => {
    assertEqual(hasher.canVerify(await hasher.hash("some password")), true, "canVerify(own hash)");
    if (otherParams !== null) {
      assertEqual(hasher.canVerify(await otherParams.hash("some password")), true, "canVerify(hash made with the other parameters)");
    }
  });

  withOther("verifies a hash made with other parameters (hashes are self-describing)", async (other) => {
    const hash = await other.hash("some password");
    await expectVerify(hasher, "some password", hash, true);
    await expectVerify(hasher, "other password", hash, false);
  });

  for (const [otherId, other] of others) {
    add(`does not claim a ${otherId} hash and answers false for it without throwing`, async () => {
      const foreign = await other.hash("shared password");
      assertEqual(hasher.canVerify(foreign), false, `canVerify(${otherId} hash)`);
      await expectVerify(hasher, "shared password", foreign, false);
      assertEqual(other.canVerify(await hasher.hash("shared password")), false, `${otherId}.canVerify(hash made by ${name})`);
    });
  }

  add("needs no rehash for a hash made with its own parameters", async () => {
    assert(typeof hasher.needsRehash === "function", "needsRehash is missing (it must be a function)");
    assertEqual(hasher.needsRehash?.(await hasher.hash("some password")), false, "needsRehash(own hash)");
  });

  // The "other" instance has stronger parameters: rehash only upward, never toward weaker ones (SPEC 9.2).
  withOther("needs a rehash toward stronger parameters only, never toward weaker ones", async (other) => {
    assertEqual(other.needsRehash?.(await hasher.hash("some password")), true, "needsRehash(weaker hash) under the stronger parameters");
    assertEqual(hasher.needsRehash?.(await other.hash("some password")), false, "needsRehash(stronger hash) under the weaker parameters");
  });

  add("answers false, without throwing, for malformed hashes", async () => {
    const hash = await hasher.hash("some password");
    const variants = malformedVariants(hash);
    assert(!new Set(variants).has(hash), "a malformed variant equals the hash itself");
    const results = await Promise.all(
      variants.map(async (bad) => {
        try {
          return [bad, await hasher.verify("some password", bad)] as const;
        } catch (err) {
          return [bad, `threw ${String(err)}`] as const;
        }
      }),
    );
    const wrong = results.filter(([, got]) => got !== false);
    assert(wrong.length === 0, `verify() of malformed hashes must answer false: ${wrong.map(([bad, got]) => `${show(bad)} -> ${show(got)}`).join("; ")}`);
  });

  return checks;
}
