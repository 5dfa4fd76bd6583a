import { describe, expect, it } from "bun:test";
import { ipRateLimitSubject, parseIp } from "./ip.ts";

describe("per-IP rate-limit subjects (known answers)", () => {
  it("maps several spellings of one IPv6 /64 to one bucket", () => {
    const spellings = [
      "2001:db8:85a3:42::1",
      "2001:0db8:85a3:0042:0000:0000:0000:0001",
      "2001:DB8:85A3:42:ffff:ffff:ffff:ffff",
      "2001:db8:85a3:42:1234:5678:9abc:def0",
      "2001:db8:85a3:42::",
      "2001:db8:85a3:42:0:0:0:0",
      "2001:db8:85a3:42::192.0.2.1",
      " 2001:db8:85a3:42::7 ",
    ];
    for (const s of spellings) expect({ s, bucket: ipRateLimitSubject(s) }).toEqual({ s, bucket: "2001:db8:85a3:42::/64" });
  });

  it("puts a different /64 in a different bucket", () => {
    expect(ipRateLimitSubject("2001:db8:85a3:43::1")).toBe("2001:db8:85a3:43::/64");
    expect(ipRateLimitSubject("2001:db8:85a3::1")).toBe("2001:db8:85a3:0::/64");
    expect(ipRateLimitSubject("2001:db9:85a3:42::1")).toBe("2001:db9:85a3:42::/64");
    expect(ipRateLimitSubject("::1")).toBe("0:0:0:0::/64");
    expect(ipRateLimitSubject("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });

  it("treats IPv4-mapped IPv6 as the IPv4 address, and IPv4 per address", () => {
    expect(ipRateLimitSubject("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(ipRateLimitSubject("::FFFF:c000:0201")).toBe("192.0.2.1");
    expect(ipRateLimitSubject("0:0:0:0:0:ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(ipRateLimitSubject("192.0.2.1")).toBe("192.0.2.1");
    expect(ipRateLimitSubject("192.0.2.2")).toBe("192.0.2.2");
    // Not mapped: the IPv4-compatible and NAT64 forms stay IPv6.
    expect(ipRateLimitSubject("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0::/64");
  });

  it("keeps a value that is not an address as it is", () => {
    for (const s of ["unknown", "1.2.3", "2001:db8::1::2", "01.2.3.4", "::ffff:999.0.0.1", ""]) {
      expect(parseIp(s)).toBeNull();
      expect(ipRateLimitSubject(s)).toBe(s);
    }
  });
});
