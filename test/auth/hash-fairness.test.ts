import { afterAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, PASSWORD, signUp } from "../helpers/auth.ts";

// One hash slot and 8 waiting places shared by two projects: project A is flooded with logins
// while project B's users log in. The flood must take the 503s, not B.
const OFF = { login_failures_per_account: "off", login_per_ip: "off" };
let inst: TestInstance;
afterAll(() => inst?.close());

describe("hash queue across projects", () => {
  it("a flooded project gets the 503s; a quiet project's logins still succeed", async () => {
    inst = await createTestInstance([authSpec({ id: "flooded", auth: { rate_limits: OFF } }), authSpec({ id: "quiet", auth: { rate_limits: OFF } })], {
      boot: { hashConcurrency: 1, hashQueueLimit: 8 },
    });
    await signUp(inst, "flood@example.com", { project: "flooded" });
    for (const email of ["b1@example.com", "b2@example.com", "b3@example.com"]) await signUp(inst, email, { project: "quiet" });
    const login = (project: string, email: string) => inst.req("POST", `/p/${project}/auth/login`, { body: { email, password: PASSWORD } });
    const flood = Array.from({ length: 60 }, () => login("flooded", "flood@example.com"));
    const quiet = ["b1@example.com", "b2@example.com", "b3@example.com"].map((e) => login("quiet", e));
    const a = await Promise.all(flood);
    const b = await Promise.all(quiet);
    expect(b.map((r) => r.status)).toEqual([200, 200, 200]);
    const aStatuses = a.map((r) => r.status);
    expect(aStatuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(20);
    expect(aStatuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(aStatuses.every((s) => s === 200 || s === 503)).toBe(true);
  });
});
