/** Per-IP limits count an IPv6 client per /64 (issue 8, item 13), through the HTTP routes. */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, dbOf, PASSWORD } from "../helpers/auth.ts";

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

async function signupFrom(t: TestInstance, n: number, ip: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await t.req("POST", "/p/demo/auth/signup", { body: { email: `u${n}@example.com`, password: PASSWORD }, ip, headers });
  return r.status;
}

describe("per-IP buckets", () => {
  it("counts every address of one IPv6 /64 together, and another /64 apart", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { signup_per_ip: { max: 2, window: "1h" } } } })]);
    expect(await signupFrom(inst, 1, "2001:db8:1:2::a")).toBe(201);
    expect(await signupFrom(inst, 2, "2001:db8:1:2:ffff:ffff:ffff:fffe")).toBe(201);
    expect(await signupFrom(inst, 3, "2001:0DB8:0001:0002::c")).toBe(429);
    expect(await signupFrom(inst, 4, "2001:db8:1:3::a")).toBe(201);
    const keys = (dbOf(inst).query("SELECT key FROM _rate_limits ORDER BY key").all() as { key: string }[]).map((r) => r.key);
    expect(keys).toEqual(["signup_per_ip:2001:db8:1:2::/64", "signup_per_ip:2001:db8:1:3::/64"]);
  });

  it("counts an IPv4-mapped peer as its IPv4 address", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { signup_per_ip: { max: 1, window: "1h" } } } })]);
    expect(await signupFrom(inst, 1, "::ffff:198.51.100.7")).toBe(201);
    expect(await signupFrom(inst, 2, "198.51.100.7")).toBe(429);
    expect(await signupFrom(inst, 3, "198.51.100.8")).toBe(201);
  });

  it("believes X-Forwarded-For from a trusted IPv6 proxy range only", async () => {
    inst = await createTestInstance([authSpec({ auth: { rate_limits: { signup_per_ip: { max: 1, window: "1h" } } } })], { trustedProxies: "2001:db8:ff::/48" });
    expect(await signupFrom(inst, 1, "2001:db8:ff:9::1", { "x-forwarded-for": "203.0.113.5" })).toBe(201);
    expect(await signupFrom(inst, 2, "2001:db8:ff:7::2", { "x-forwarded-for": "203.0.113.5" })).toBe(429);
    expect(await signupFrom(inst, 3, "2001:db8:ff:7::2", { "x-forwarded-for": "203.0.113.6" })).toBe(201);
    // An untrusted peer's header is ignored: it is counted as itself.
    expect(await signupFrom(inst, 4, "2001:db8:fe::1", { "x-forwarded-for": "203.0.113.77" })).toBe(201);
    expect(await signupFrom(inst, 5, "2001:db8:fe::2", { "x-forwarded-for": "203.0.113.78" })).toBe(429);
  });
});
