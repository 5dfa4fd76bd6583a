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
// Made once by this plugin at cost 5 for "Tr0ub4dor"; it must keep verifying in every later version.
const PREHASHED_REFERENCE = "$bcrypt-hmac-sha256$v=1$2b$05$EFAOfa8RhYZ.sFOeQdny5.Lf8UXdTKsnYH518Zqisvsauobjdl/7m";

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
  it("writes the versioned pre-hashed form: $bcrypt-hmac-sha256$v=1 + $2b$ with the configured two-digit cost", async () => {
    const hash = await createHasher("bcrypt").hash("some password");
    expect(hash).toMatch(/^\$bcrypt-hmac-sha256\$v=1\$2b\$04\$[./A-Za-z0-9]{53}$/);
  });

  it("round-trips with the default cost 12", async () => {
    const hasher = createHasher("bcrypt", {});
    const hash = await hasher.hash("some password");
    expect(hash.startsWith("$bcrypt-hmac-sha256$v=1$2b$12$")).toBe(true);
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

  it("moves a plain hash to the pre-hashed form at the same or a higher cost, never down to a lower one", () => {
    expect(createHasher("bcrypt", { cost: 5 }).needsRehash?.(REFERENCE_HASH)).toBe(true);
    expect(createHasher("bcrypt", { cost: 6 }).needsRehash?.(REFERENCE_HASH)).toBe(true);
    expect(createHasher("bcrypt", { cost: 4 }).needsRehash?.(REFERENCE_HASH)).toBe(false);
  });

  it("verifies a fixed pre-hashed hash (known answer) and refuses its NUL variants", async () => {
    const hasher = createHasher("bcrypt");
    expect(await hasher.verify("Tr0ub4dor", PREHASHED_REFERENCE)).toBe(true);
    expect(await hasher.verify("Tr0ub4dor\u0000Tr0ub4dor", PREHASHED_REFERENCE)).toBe(false);
    expect(await hasher.verify("Tr0ub4dor\u0000", PREHASHED_REFERENCE)).toBe(false);
    expect(createHasher("bcrypt", { cost: 5 }).needsRehash?.(PREHASHED_REFERENCE)).toBe(false);
  });

  it("refuses a password with NUL against an imported plain hash, whose key bcrypt reads as a C string", async () => {
    const plain = await Bun.password.hash("Tr0ub4dor", { algorithm: "bcrypt", cost: 4 });
    const hasher = createHasher("bcrypt");
    expect(await hasher.verify("Tr0ub4dor", plain)).toBe(true);
    expect(await hasher.verify("Tr0ub4dor\u0000Tr0ub4dor", plain)).toBe(false);
    expect(await hasher.verify("Tr0ub4dor\u0000", plain)).toBe(false);
  });
});
