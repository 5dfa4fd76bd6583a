import { describe, expect, it } from "bun:test";
import { normalizeCorsOrigin, normalizeOriginEntry, validateRedirectUrl } from "../../src/config/origins.ts";

const ALLOWED = ["https://myapp.com", "http://localhost:5173"] as const;

/** Every one of these must be refused against ALLOWED. [why, value] */
const HOSTILE: readonly (readonly [string, unknown])[] = [
  ["suffix match on the host", "https://myapp.com.evil.com"],
  ["userinfo hides the real host", "https://myapp.com@evil.com"],
  ["backslash turns into a slash in the parser", "https://evil.com\\@myapp.com"],
  ["backslash after the host", "https://myapp.com\\@evil.com"],
  ["scheme-relative", "//evil.com"],
  ["scheme-relative to the allowed host", "//myapp.com/reset"],
  ["scheme without slashes", "https:evil.com"],
  ["scheme with one slash", "https:/myapp.com"],
  ["scheme with three slashes", "https:///evil.com"],
  ["http where only https is allowed", "http://myapp.com"],
  ["other port", "https://myapp.com:444"],
  ["trailing-dot host", "https://myapp.com."],
  ["trailing-dot host with a path", "https://myapp.com./reset"],
  ["percent-encoded host letter", "https://%6dyapp.com"],
  ["percent-encoded dot", "https://myapp%2ecom"],
  ["fullwidth letter (IDNA maps it to m)", "https://ｍyapp.com"],
  ["punycode look-alike", "https://xn--myap-7ve.com"],
  ["Cyrillic a look-alike", "https://myаpp.com"],
  ["javascript: URL", "javascript:alert(1)"],
  ["javascript: URL in uppercase", "JAVASCRIPT:alert(1)//https://myapp.com"],
  ["data: URL", "data:text/html,<script>alert(1)</script>"],
  ["CRLF injection", "https://myapp.com/\r\nSet-Cookie:x"],
  ["leading space", " https://myapp.com"],
  ["trailing space", "https://myapp.com "],
  ["user and password", "https://user:pass@myapp.com"],
  ["user only", "https://user@myapp.com"],
  ["empty userinfo", "https://@myapp.com"],
  ["subdomain", "https://sub.myapp.com"],
  ["prefix on the host", "https://evilmyapp.com"],
  ["shorter TLD", "https://myapp.co"],
  ["longer than 2048 characters", `https://myapp.com/${"a".repeat(2049 - "https://myapp.com/".length)}`],
  ["ftp scheme", "ftp://myapp.com"],
  ["tab at the end (the parser strips it)", "https://myapp.com\t"],
  ["tab inside the host", "https://my\tapp.com"],
  ["other host in uppercase scheme", "HTTPS://evil.com"],
  ["IPv6 localhost over https", "https://[::1]"],
  ["localhost on another port", "http://localhost:5174"],
  ["localhost without the port", "http://localhost"],
  ["localhost over https", "https://localhost:5173"],
  ["127.0.0.1 instead of localhost", "http://127.0.0.1:5173"],
  ["a number", 42],
  ["null", null],
  ["undefined", undefined],
  ["an object", { href: "https://myapp.com" }],
  ["an array", ["https://myapp.com"]],
  ["empty string", ""],
  ["relative path", "/path"],
  ["query only", "?x=1"],
  ["host only, no scheme", "myapp.com"],
  ["NUL byte", "https://myapp.com/\u0000"],
  ["non-ASCII in the path", "https://myapp.com/é"],
  ["empty port", "https://myapp.com:"],
  ["port with a leading zero", "https://myapp.com:0443"],
  ["port out of range", "https://myapp.com:99999"],
  ["empty host with port", "https://:443"],
  ["IPv4 shorthand for 127.0.0.1", "http://2130706433:5173"],
  ["host with a semicolon suffix", "https://myapp.com;evil.com"],
  ["blob URL", "blob:https://myapp.com/uuid"],
  ["vbscript URL", "vbscript:msgbox(1)"],
  ["ws scheme", "wss://myapp.com"],
];

/** [raw, normalized] */
const ACCEPTED: readonly (readonly [string, string])[] = [
  ["https://myapp.com", "https://myapp.com/"],
  ["https://myapp.com/", "https://myapp.com/"],
  ["HTTPS://MyApp.com:443/reset?x=1", "https://myapp.com/reset?x=1"],
  ["https://myapp.com/reset?token=old&next=%2Fhome", "https://myapp.com/reset?token=old&next=%2Fhome"],
  ["http://localhost:5173/cb", "http://localhost:5173/cb"],
  ["http://LOCALHOST:5173", "http://localhost:5173/"],
  ["https://myapp.com#@evil.com", "https://myapp.com/#@evil.com"],
  ["https://myapp.com/a/../b", "https://myapp.com/b"],
  ["https://myapp.com/path?redirect=https://evil.com", "https://myapp.com/path?redirect=https://evil.com"],
];

describe("validateRedirectUrl", () => {
  it("has a hostile table of at least 45 entries", () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(45);
  });

  for (const [why, value] of HOSTILE) {
    it(`refuses ${why}`, () => {
      expect(validateRedirectUrl(value, ALLOWED)).toEqual({ ok: false });
    });
  }

  for (const [raw, normalized] of ACCEPTED) {
    it(`accepts ${JSON.stringify(raw)} as ${normalized}`, () => {
      expect(validateRedirectUrl(raw, ALLOWED)).toEqual({ ok: true, url: normalized });
    });
  }

  it("accepts a URL of exactly 2048 characters", () => {
    const raw = `https://myapp.com/${"a".repeat(2048 - "https://myapp.com/".length)}`;
    expect(raw.length).toBe(2048);
    expect(validateRedirectUrl(raw, ALLOWED)).toEqual({ ok: true, url: raw });
  });

  it("collapses a path that starts with // to a single / (no scheme-relative path for the app to follow)", () => {
    expect(validateRedirectUrl("https://myapp.com//evil.com/x?a=1", ALLOWED)).toEqual({ ok: true, url: "https://myapp.com/evil.com/x?a=1" });
    expect(validateRedirectUrl("https://myapp.com///evil.com", ALLOWED)).toEqual({ ok: true, url: "https://myapp.com/evil.com" });
    expect(validateRedirectUrl("https://myapp.com/a//b", ALLOWED)).toEqual({ ok: true, url: "https://myapp.com/a//b" });
  });

  it("refuses everything against an empty allow-list", () => {
    expect(validateRedirectUrl("https://myapp.com/reset", [])).toEqual({ ok: false });
  });

  it("accepts http only for the exact http origin listed", () => {
    expect(validateRedirectUrl("http://[::1]:8080/x", ["http://[::1]:8080"])).toEqual({ ok: true, url: "http://[::1]:8080/x" });
    expect(validateRedirectUrl("http://[::1]:8081/x", ["http://[::1]:8080"])).toEqual({ ok: false });
  });
});

describe("normalizeOriginEntry", () => {
  const REJECTED: readonly (readonly [string, string])[] = [
    ["*", "wildcard"],
    ["https://*.a.com", "wildcard"],
    ["https://a.com/path", "path"],
    ["https://a.com/path/", "path"],
    ["http://a.com", "http is allowed only"],
    ["http://localhost.evil.com", "http is allowed only"],
    ["https://a.com?x", "query"],
    ["https://a.com#x", "fragment"],
    ["https://u@a.com", "user name"],
    ["https://u:p@a.com", "user name"],
    ["https://a.com.", "trailing dot"],
    ["a.com", "absolute"],
    ["//a.com", "absolute"],
    ["ftp://a.com", "absolute"],
    ["https://a.com\\", "backslash"],
    ["https://%61.com", "percent"],
    ["https://a.com ", "printable ASCII"],
    ["https://ä.com", "printable ASCII"],
    ["", "empty"],
    ["https://", "host is missing"],
    ["https://a.com:0", "port"],
    ["https://a.com:", "port"],
    ["https://a.com:70000", "port"],
  ];
  for (const [raw, fragment] of REJECTED) {
    it(`refuses ${JSON.stringify(raw)} (${fragment})`, () => {
      const result = normalizeOriginEntry(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toContain(fragment);
    });
  }

  const NORMALIZED: readonly (readonly [string, string])[] = [
    ["HTTPS://A.COM:443/", "https://a.com"],
    ["https://a.com", "https://a.com"],
    ["https://a.com:8443", "https://a.com:8443"],
    ["http://localhost:5173", "http://localhost:5173"],
    ["http://localhost:80/", "http://localhost"],
    ["http://127.0.0.1:3000", "http://127.0.0.1:3000"],
    ["http://[::1]:3000", "http://[::1]:3000"],
    ["https://xn--bcher-kva.example", "https://xn--bcher-kva.example"],
  ];
  for (const [raw, origin] of NORMALIZED) {
    it(`stores ${JSON.stringify(raw)} as ${origin}`, () => {
      expect(normalizeOriginEntry(raw)).toEqual({ ok: true, origin });
    });
  }

  it("never echoes the entry in its reason", () => {
    const result = normalizeOriginEntry("https://secret-host.example/secret-path");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).not.toContain("secret");
  });
});

describe("normalizeCorsOrigin", () => {
  it("allows plain http for any host but keeps every other rule", () => {
    expect(normalizeCorsOrigin("http://intranet.local:8080/")).toEqual({ ok: true, origin: "http://intranet.local:8080" });
    expect(normalizeCorsOrigin("https://*.a.com").ok).toBe(false);
    expect(normalizeCorsOrigin("https://a.com/path").ok).toBe(false);
  });
});
