/**
 * What each password path costs in hash work, counted through the test instance's hasher seam
 * (BootOptions.instrumentHasher), not guessed from timings: SPEC 9.2 (rehash upward only, NUL),
 * 9.4 (an unknown email costs one verification).
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, authSpec, expectError, logIn, dbOf, runtimeOf, signUp } from "../helpers/auth.ts";

const argon = (memory_cost: number, time_cost = 1) => ({ algorithm: "argon2id", options: { memory_cost, time_cost } });
const noLimits = { login_failures_per_account: "off", login_per_ip: "off" };

function storedHash(inst: TestInstance, email: string): string {
  const row = dbOf(inst).query("SELECT password_hash FROM users WHERE email = ?").get(email) as { password_hash: string };
  return row.password_hash;
}

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

describe("login hash work", () => {
  it("spends exactly one verification on an unknown email, and one on a wrong password", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: noLimits } })]);
    await signUp(inst, "known@example.com");
    await runtimeOf(inst).hashes.prepareDummy();
    inst.hashCalls.reset();
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "ghost@example.com", password: PASSWORD } }), 401, "AUTH_INVALID_CREDENTIALS");
    expect({ verify: inst.hashCalls.verify, hash: inst.hashCalls.hash }).toEqual({ verify: 1, hash: 0 });
    inst.hashCalls.reset();
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "known@example.com", password: "not the password" } }), 401, "AUTH_INVALID_CREDENTIALS");
    expect({ verify: inst.hashCalls.verify, hash: inst.hashCalls.hash }).toEqual({ verify: 1, hash: 0 });
  });

  it("spends one verification on a password with NUL and never lets it in", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: noLimits } })]);
    await signUp(inst, "known@example.com");
    await runtimeOf(inst).hashes.prepareDummy();
    inst.hashCalls.reset();
    expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email: "known@example.com", password: `${PASSWORD}\u0000` } }), 401, "AUTH_INVALID_CREDENTIALS");
    expect(inst.hashCalls.verify).toBe(1);
  });
});

describe("bcrypt and NUL bytes (SPEC 9.2)", () => {
  it("does not let \"Tr0ub4dor\\0Tr0ub4dor\" log in as \"Tr0ub4dor\", neither for a new hash nor for an imported plain bcrypt hash", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: noLimits, hasher: { algorithm: "bcrypt", options: { cost: 4 } } } })]);
    await signUp(inst, "new@example.com", { password: "Tr0ub4dor" });
    expect(storedHash(inst, "new@example.com")).toStartWith("$bcrypt-hmac-sha256$v=1$2b$04$");
    await signUp(inst, "imported@example.com", { password: "placeholder password" });
    const plain = await Bun.password.hash("Tr0ub4dor", { algorithm: "bcrypt", cost: 4 });
    dbOf(inst).query("UPDATE users SET password_hash = ? WHERE email = ?").run(plain, "imported@example.com");

    for (const email of ["new@example.com", "imported@example.com"]) {
      for (const variant of ["Tr0ub4dor\u0000Tr0ub4dor", "Tr0ub4dor\u0000"]) {
        expectError(await inst.req("POST", "/p/demo/auth/login", { body: { email, password: variant } }), 401, "AUTH_INVALID_CREDENTIALS");
      }
    }
    // The imported hash still verifies, and the login moves it to the pre-hashed form.
    await logIn(inst, "imported@example.com", { password: "Tr0ub4dor" });
    expect(storedHash(inst, "imported@example.com")).toStartWith("$bcrypt-hmac-sha256$v=1$2b$04$");
    await logIn(inst, "imported@example.com", { password: "Tr0ub4dor" });
    await logIn(inst, "new@example.com", { password: "Tr0ub4dor" });
  });

  it("refuses a new password containing NUL with 400 at signup, for every hasher", async () => {
    inst = await createTestInstance([authSpec()]);
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "nul@example.com", password: "Tr0ub4dor\u0000Tr0ub4dor" } });
    expectError(r, 400, "VALIDATION_INVALID_FIELD", "password");
    expect(inst.hashCalls.hash).toBe(0);
  });
});

describe("rehash on login only upward (SPEC 9.2)", () => {
  it("does not rehash after memory_cost is lowered, and rehashes once after it is raised", async () => {
    const spec = (memory: number) => authSpec({ auth: { rate_limits: noLimits, hasher: argon(memory) } });
    inst = await createTestInstance([spec(1024)]);
    await signUp(inst, "ann@example.com");
    const original = storedHash(inst, "ann@example.com");
    expect(original).toContain("$m=1024,t=1,");

    await inst.restart([spec(512)]);
    inst.hashCalls.reset();
    await logIn(inst, "ann@example.com");
    expect({ verify: inst.hashCalls.verify, hash: inst.hashCalls.hash }).toEqual({ verify: 1, hash: 0 });
    expect(storedHash(inst, "ann@example.com")).toBe(original);

    await inst.restart([spec(2048)]);
    inst.hashCalls.reset();
    await logIn(inst, "ann@example.com");
    expect({ verify: inst.hashCalls.verify, hash: inst.hashCalls.hash }).toEqual({ verify: 1, hash: 1 });
    expect(storedHash(inst, "ann@example.com")).toContain("$m=2048,t=1,");
    inst.hashCalls.reset();
    await logIn(inst, "ann@example.com");
    expect(inst.hashCalls.hash).toBe(0);
  });

  it("rehashes a hash of another algorithm even at lower cost (a different algorithm is an upgrade by choice)", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: noLimits, hasher: { algorithm: "bcrypt", options: { cost: 4 } } } })]);
    await signUp(inst, "bob@example.com");
    await inst.restart([authSpec({ auth: { rate_limits: noLimits, hasher: argon(8) } })]);
    inst.hashCalls.reset();
    await logIn(inst, "bob@example.com");
    expect(inst.hashCalls.byId.argon2id?.hash).toBe(1);
    expect(storedHash(inst, "bob@example.com")).toStartWith("$argon2id$");
  });
});
