import { isIPv4, isIPv6 } from "node:net";

/** A parsed client address: IPv4 in dotted form, IPv6 as its eight 16-bit groups. */
export type ParsedIp = { readonly family: "ipv4"; readonly address: string } | { readonly family: "ipv6"; readonly groups: readonly number[] };

/**
 * Parses an address; `node:net` decides what is valid, this only expands it. An IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`, `::ffff:c000:201`) is the IPv4 address it carries. A zone
 * (`fe80::1%eth0`) is dropped. Anything else is null.
 */
export function parseIp(raw: string): ParsedIp | null {
  const ip = raw.trim();
  if (isIPv4(ip)) return { family: "ipv4", address: ip };
  let text = ip.split("%")[0];
  if (!isIPv6(text)) return null;
  // A dotted IPv4 tail (`::ffff:192.0.2.1`, `64:ff9b::192.0.2.1`) is the last two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const b = tail.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, rest] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = rest === undefined ? [] : rest ? rest.split(":") : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return { family: "ipv4", address: [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".") };
  }
  return { family: "ipv6", groups };
}

/**
 * The subject of a per-IP rate limit. One IPv6 client usually holds a whole /64 (SLAAC, privacy
 * addresses), so IPv6 addresses are counted per /64 (`2001:db8:0:1::/64`); IPv4 per address,
 * IPv4-mapped IPv6 as IPv4. A value that is not an address (no socket peer) is used as is.
 */
export function ipRateLimitSubject(raw: string): string {
  const ip = parseIp(raw);
  if (!ip) return raw;
  if (ip.family === "ipv4") return ip.address;
  return `${ip.groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}
