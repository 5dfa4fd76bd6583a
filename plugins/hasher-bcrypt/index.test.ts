import { describe, expect, it } from "bun:test";
import { parse, safeParse } from "valibot";
import { createHasher, createTestPluginContext, runHasherContract } from "../../test/contracts/hasher-contract.ts";
import bcryptHasher from "./index.ts";

runHasherContract(
  "bcrypt",
  () => createHasher("bcrypt"),
  () => createHasher("bcrypt", { cost: 5 }),
);

// crypt_blowfish test vector: bcrypt("U*U") with cost 5 and salt "CCC…".
const REFERENCE_HASH = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

describe("bcrypt options", () => {
  it("defaults to cost 12", () => {
    expect(parse(bcryptHasher.optionsSchema, {})).toEqual({ cost: 12 });
    expect(parse(bcryptHasher.optionsSchema, undefined)).toEqual({ cost: 12 });
  });

  it("rejects unknown keys and costs outside 4..31", () => {
    for (const bad of [{ cost: 12, rounds: 12 }, { cost: 3 }, { cost: 32 }, { cost: 10.5 }, { cost: "12" }]) {
      expect(safeParse(bcryptHasher.optionsSchema, bad).success).toBe(false);
    }
  });

  it("warns below cost 10", () => {
    const ctx = createTestPluginContext();
    bcryptHasher.create(parse(bcryptHasher.optionsSchema, { cost: 4 }), ctx);
    expect(ctx.logs.map((l) => l.level)).toEqual(["warn"]);
  });
});

describe("bcrypt hashes", () => {
  it("writes $2b$ with the configured two-digit cost", async () => {
    const hash = await createHasher("bcrypt").hash("some password");
    expect(hash).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}$/);
  });

  it("round-trips with the default cost 12", async () => {
    const hasher = createHasher("bcrypt", {});
    const hash = await hasher.hash("some password");
    expect(hash.startsWith("$2b$12$")).toBe(true);
    expect(await hasher.verify("some password", hash)).toBe(true);
  });

  it("verifies a hash made by another implementation, under each of $2a$, $2b$ and $2y$", async () => {
    const hasher = createHasher("bcrypt");
    for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
      const hash = REFERENCE_HASH.replace("$2a$", prefix);
      expect(hasher.canVerify(hash)).toBe(true);
      expect(await hasher.verify("U*U", hash)).toBe(true);
      expect(await hasher.verify("U*U*", hash)).toBe(false);
    }
  });

  it("does not claim the $2x$ variant (crypt_blowfish's sign-extension bug)", async () => {
    const hasher = createHasher("bcrypt");
    const hash = REFERENCE_HASH.replace("$2a$", "$2x$");
    expect(hasher.canVerify(hash)).toBe(false);
    expect(await hasher.verify("U*U", hash)).toBe(false);
  });

  it("needs a rehash exactly when the cost differs", () => {
    expect(createHasher("bcrypt", { cost: 5 }).needsRehash?.(REFERENCE_HASH)).toBe(false);
    expect(createHasher("bcrypt", { cost: 4 }).needsRehash?.(REFERENCE_HASH)).toBe(true);
  });
});
