import { describe, expect, it } from "bun:test";
import { parseTrustedProxies, resolveClientIp, type TrustedProxies } from "./client-ip.ts";

function trusted(spec: string): TrustedProxies {
  const t = parseTrustedProxies(spec);
  if (typeof t === "string") throw new Error(t);
  return t;
}

describe("--trusted-proxies (node:net BlockList)", () => {
  it("matches IPv6 CIDRs by prefix, in any spelling", () => {
    const t = trusted("2001:db8:abcd::/48, fd00::1");
    expect(t.contains("2001:db8:abcd::1")).toBe(true);
    expect(t.contains("2001:0DB8:ABCD:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(t.contains("2001:db8:abce::1")).toBe(false);
    expect(t.contains("2001:db8::1")).toBe(false);
    expect(t.contains("fd00::1")).toBe(true);
    expect(t.contains("fd00:0:0:0:0:0:0:1")).toBe(true);
    expect(t.contains("fd00::2")).toBe(false);
  });

  it("matches odd IPv6 prefix lengths bit by bit", () => {
    const t = trusted("2001:db8:8000::/33");
    expect(t.contains("2001:db8:8000::1")).toBe(true);
    expect(t.contains("2001:db8:ffff::1")).toBe(true);
    expect(t.contains("2001:db8:7fff::1")).toBe(false);
    expect(trusted("::/0").contains("2001:db8::1")).toBe(true);
  });

  it("matches IPv4 CIDRs, also for an IPv4-mapped peer", () => {
    const t = trusted("10.0.0.0/8,192.0.2.7");
    expect(t.contains("10.255.0.1")).toBe(true);
    expect(t.contains("::ffff:10.1.2.3")).toBe(true);
    expect(t.contains("11.0.0.1")).toBe(false);
    expect(t.contains("192.0.2.7")).toBe(true);
    expect(t.contains("192.0.2.8")).toBe(false);
    expect(t.contains("not an ip")).toBe(false);
  });

  it("refuses malformed ranges with a message", () => {
    for (const bad of ["10.0.0.0/33", "2001:db8::/129", "10.0.0.0/x", "10.0.0/8", "2001:db8::1::/64", "fe80::1%eth0/64", "10.0.0.0/-1"]) {
      expect(typeof parseTrustedProxies(bad)).toBe("string");
    }
  });

  it("walks X-Forwarded-For from the right past trusted IPv6 proxies", () => {
    const t = trusted("2001:db8:1::/64");
    expect(resolveClientIp("2001:db8:1::5", "2001:db8:ffff::9, 2001:db8:1::6", t)).toBe("2001:db8:ffff::9");
    expect(resolveClientIp("2001:db8:2::5", "203.0.113.9", t)).toBe("2001:db8:2::5");
    expect(resolveClientIp("2001:db8:1::5", "garbage", t)).toBe("2001:db8:1::5");
  });
});
