import { describe, expect, it } from "bun:test";
import { parse, safeParse } from "valibot";
import { createHasher, createTestPluginContext, runHasherContract } from "../../test/contracts/hasher-contract.ts";
import scryptHasher from "./index.ts";

runHasherContract(
  "scrypt",
  () => createHasher("scrypt"),
  () => createHasher("scrypt", { log_n: 11 }),
);

/** RFC 7914 §12: scrypt("password", "NaCl", N=1024, r=8, p=16), first 32 bytes of the output. */
const RFC_7914_HASH =
  "$scrypt$ln=10,r=8,p=16$" +
  Buffer.from("NaCl").toString("base64").replace(/=+$/, "") +
  "$" +
  Buffer.from("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162", "hex").toString("base64").replace(/=+$/, "");

describe("scrypt options", () => {
  it("defaults to log_n 17, block_size 8, parallelization 1", () => {
    const defaults = { log_n: 17, block_size: 8, parallelization: 1 };
    expect(parse(scryptHasher.optionsSchema, {})).toEqual(defaults);
    expect(parse(scryptHasher.optionsSchema, undefined)).toEqual(defaults);
  });

  it("rejects unknown keys, out-of-range values and parameters that need more than 1 GiB", () => {
    for (const bad of [
      { cost: 17 },
      { log_n: 9 },
      { log_n: 21 },
      { block_size: 0 },
      { parallelization: 17 },
      { log_n: 20, block_size: 16 },
      { log_n: 12.5 },
    ]) {
      expect(safeParse(scryptHasher.optionsSchema, bad).success).toBe(false);
    }
  });

  it("warns below the OWASP recommendation", () => {
    const ctx = createTestPluginContext();
    scryptHasher.create(parse(scryptHasher.optionsSchema, { log_n: 10 }), ctx);
    expect(ctx.logs.map((l) => l.level)).toEqual(["warn"]);
  });
});

describe("scrypt hashes", () => {
  it("writes $scrypt$ln=..,r=..,p=..$salt$hash with a 16-byte salt and a 32-byte key, unpadded base64", async () => {
    const hash = await createHasher("scrypt").hash("some password");
    const m = /^\$scrypt\$ln=10,r=8,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(hash);
    expect(m).not.toBeNull();
    expect(Buffer.from(m?.[1] ?? "", "base64")).toHaveLength(16);
    expect(Buffer.from(m?.[2] ?? "", "base64")).toHaveLength(32);
  });

  it("round-trips with the default parameters (maxmem covers the 128 MiB they need)", async () => {
    const ctx = createTestPluginContext();
    const hasher = scryptHasher.create(parse(scryptHasher.optionsSchema, {}), ctx);
    const hash = await hasher.hash("some password");
    expect(hash.startsWith("$scrypt$ln=17,r=8,p=1$")).toBe(true);
    expect(await hasher.verify("some password", hash)).toBe(true);
    expect(ctx.logs).toEqual([]);
  });

  it("matches the RFC 7914 test vector", async () => {
    const hasher = createHasher("scrypt");
    expect(await hasher.verify("password", RFC_7914_HASH)).toBe(true);
    expect(await hasher.verify("Password", RFC_7914_HASH)).toBe(false);
  });

  it("needs a rehash when r or p rise, and none when they fall (SPEC 9.2: upward only)", async () => {
    const hash = await createHasher("scrypt").hash("some password");
    expect(createHasher("scrypt", { log_n: 10, block_size: 16 }).needsRehash?.(hash)).toBe(true);
    expect(createHasher("scrypt", { log_n: 10, parallelization: 2 }).needsRehash?.(hash)).toBe(true);
    expect(createHasher("scrypt", { log_n: 10, block_size: 4 }).needsRehash?.(hash)).toBe(false);
    expect(createHasher("scrypt", { log_n: 10 }).needsRehash?.(hash)).toBe(false);
  });

  it("refuses, without computing it, a hash whose memory cost exceeds the bounds", async () => {
    const hash = await createHasher("scrypt").hash("some password");
    const huge = hash.replace("ln=10,r=8", "ln=30,r=8");
    const started = performance.now();
    expect(await createHasher("scrypt").verify("some password", huge)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("refuses a non-canonical base64 key instead of reading past the junk", async () => {
    const hash = await createHasher("scrypt").hash("some password");
    expect(await createHasher("scrypt").verify("some password", `${hash}AA`)).toBe(false);
  });
});
