import { BlockList } from "node:net";
import { parseIp } from "./ip.ts";

/** Trusted proxy ranges (`--trusted-proxies`): only these peers' X-Forwarded-For is believed. */
export interface TrustedProxies {
  contains(ip: string): boolean;
}

/** Parses `CIDR[,CIDR...]` (a bare address is a /32 or /128) into a `node:net` BlockList. */
export function parseTrustedProxies(spec: string): TrustedProxies | string {
  const list = new BlockList();
  for (const raw of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const slash = raw.indexOf("/");
    const addr = slash === -1 ? raw : raw.slice(0, slash);
    const ip = addr.includes("%") ? null : parseIp(addr);
    // An IPv4-mapped range is written as IPv6 but means IPv4: only a plain dotted address is IPv4 here.
    const family = ip === null ? null : addr.includes(":") ? "ipv6" : "ipv4";
    if (family === null) return `invalid address in --trusted-proxies: ${raw}`;
    const max = family === "ipv6" ? 128 : 32;
    const lenText = slash === -1 ? String(max) : raw.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) return `invalid prefix length in --trusted-proxies: ${raw}`;
    list.addSubnet(addr, prefix, family);
  }
  return {
    contains(ip) {
      const p = parseIp(ip);
      if (!p) return false;
      // BlockList matches an IPv4 rule against an IPv4-mapped IPv6 address, and the reverse.
      return p.family === "ipv4" ? list.check(p.address, "ipv4") : list.check(ip.trim().split("%")[0], "ipv6");
    },
  };
}

export const NO_TRUSTED_PROXIES: TrustedProxies = { contains: () => false };

/**
 * The client IP: the socket peer, unless the peer is a trusted proxy, in which case walk
 * X-Forwarded-For from the right and take the first address that is not itself a trusted proxy.
 */
export function resolveClientIp(peer: string, forwardedFor: string | null, trusted: TrustedProxies): string {
  if (!forwardedFor || !trusted.contains(peer)) return peer;
  const hops = forwardedFor.split(",").map((s) => s.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!parseIp(hops[i])) return peer;
    if (!trusted.contains(hops[i])) return hops[i];
  }
  return hops[0] ?? peer;
}
