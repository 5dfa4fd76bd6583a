import { describe, expect, it } from "bun:test";
import { parse, safeParse } from "valibot";
import { createHasher, createTestPluginContext, runHasherContract } from "../../test/contracts/hasher-contract.ts";
import argon2idHasher from "./index.ts";

runHasherContract(
  "argon2id",
  () => createHasher("argon2id"),
  () => createHasher("argon2id", { memory_cost: 16, time_cost: 1 }),
);

describe("argon2id options", () => {
  it("defaults to m=19456 KiB and t=2", () => {
    expect(parse(argon2idHasher.optionsSchema, {})).toEqual({ memory_cost: 19456, time_cost: 2 });
    expect(parse(argon2idHasher.optionsSchema, undefined)).toEqual({ memory_cost: 19456, time_cost: 2 });
  });

  it("rejects unknown keys, values below Bun's floor and non-integers", () => {
    for (const bad of [
      { memory_cost: 19456, parallelism: 2 },
      { memory_cost: 7 },
      { time_cost: 0 },
      { memory_cost: 1024.5 },
      { time_cost: "2" },
    ]) {
      expect(safeParse(argon2idHasher.optionsSchema, bad).success).toBe(false);
    }
  });

  it("accepts Bun's floor of m=8 KiB, t=1 and warns that it is for tests only", () => {
    const ctx = createTestPluginContext();
    argon2idHasher.create(parse(argon2idHasher.optionsSchema, { memory_cost: 8, time_cost: 1 }), ctx);
    expect(ctx.logs.map((l) => l.level)).toEqual(["warn"]);
  });
});

describe("argon2id hashes", () => {
  it("writes the standard PHC string with the configured parameters and p=1", async () => {
    const hash = await createHasher("argon2id").hash("some password");
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=8,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  });

  it("round-trips with the default parameters and logs no warning", async () => {
    const ctx = createTestPluginContext();
    const hasher = argon2idHasher.create(parse(argon2idHasher.optionsSchema, {}), ctx);
    const hash = await hasher.hash("some password");
    expect(hash.startsWith("$argon2id$v=19$m=19456,t=2,p=1$")).toBe(true);
    expect(await hasher.verify("some password", hash)).toBe(true);
    expect(ctx.logs).toEqual([]);
  });

  it("needs a rehash when only the time cost rises, and none when it falls (SPEC 9.2: upward only)", async () => {
    const stronger = await createHasher("argon2id", { memory_cost: 8, time_cost: 2 }).hash("some password");
    const weaker = await createHasher("argon2id").hash("some password");
    expect(createHasher("argon2id", { memory_cost: 8, time_cost: 2 }).needsRehash?.(weaker)).toBe(true);
    expect(createHasher("argon2id").needsRehash?.(stronger)).toBe(false);
  });

  it("leaves a mix alone: more memory but fewer passes is not a stronger setting", async () => {
    const hash = await createHasher("argon2id", { memory_cost: 16, time_cost: 1 }).hash("some password");
    expect(createHasher("argon2id", { memory_cost: 8, time_cost: 2 }).needsRehash?.(hash)).toBe(false);
  });

  it("verifies a fixed hash (known answer, made once at m=8, t=1)", async () => {
    const fixed = "$argon2id$v=19$m=8,t=1,p=1$9yFl7uWjPnIKpPgoIQuZspyhfjhRVFp8T2Qn1vdxeX8$lK08vpKeVfvGlosTYMe2+JT28xwY6lHNWuzL60t+OUk";
    const hasher = createHasher("argon2id", { memory_cost: 19456, time_cost: 2 });
    expect(await hasher.verify("Tr0ub4dor&3", fixed)).toBe(true);
    expect(await hasher.verify("Tr0ub4dor&4", fixed)).toBe(false);
  });

  it("does not claim argon2i or argon2d hashes", async () => {
    const hasher = createHasher("argon2id");
    for (const algorithm of ["argon2i", "argon2d"] as const) {
      const foreign = await Bun.password.hash("some password", { algorithm, memoryCost: 8, timeCost: 1 });
      expect(hasher.canVerify(foreign)).toBe(false);
      expect(await hasher.verify("some password", foreign)).toBe(false);
    }
  });

  it("refuses, without computing it, a hash whose cost exceeds the schema's bounds", async () => {
    const hash = await createHasher("argon2id").hash("some password");
    const huge = hash.replace("m=8,", "m=99999999,");
    const started = performance.now();
    expect(await createHasher("argon2id").verify("some password", huge)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
