/** Trusted proxy ranges (`--trusted-proxies`): only these peers' X-Forwarded-For is believed. */
export interface TrustedProxies {
  contains(ip: string): boolean;
}

export function parseTrustedProxies(spec: string): TrustedProxies | string {
  const ranges: { v6: boolean; bits: bigint; prefix: number }[] = [];
  for (const raw of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [addr, len] = raw.split("/");
    const parsed = parseIp(addr);
    if (!parsed) return `invalid address in --trusted-proxies: ${raw}`;
    const max = parsed.v6 ? 128 : 32;
    const prefix = len === undefined ? max : Number(len);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return `invalid prefix length in --trusted-proxies: ${raw}`;
    ranges.push({ v6: parsed.v6, bits: parsed.bits, prefix });
  }
  return {
    contains(ip) {
      const p = parseIp(ip);
      if (!p) return false;
      return ranges.some((r) => {
        if (r.v6 !== p.v6) return false;
        const width = BigInt(r.v6 ? 128 : 32);
        const shift = width - BigInt(r.prefix);
        return r.prefix === 0 || p.bits >> shift === r.bits >> shift;
      });
    },
  };
}

export const NO_TRUSTED_PROXIES: TrustedProxies = { contains: () => false };

function parseIp(raw: string): { v6: boolean; bits: bigint } | null {
  let ip = raw.trim();
  if (ip.startsWith("::ffff:") && ip.includes(".")) ip = ip.slice(7);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((n) => n > 255)) return null;
    return { v6: false, bits: parts.reduce((acc, n) => (acc << 8n) | BigInt(n), 0n) };
  }
  if (!/^[0-9a-fA-F:]+$/.test(ip) || !ip.includes(":")) return null;
  const [head, tail, extra] = ip.split("::");
  if (extra !== undefined) return null;
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  const missing = 8 - h.length - t.length;
  if ((tail === undefined && missing !== 0) || missing < 0) return null;
  const groups = [...h, ...Array(tail === undefined ? 0 : missing).fill("0"), ...t];
  if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) return null;
  return { v6: true, bits: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

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
