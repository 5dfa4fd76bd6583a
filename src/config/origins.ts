/**
 * Origin allow-lists and redirect URL checks (SPEC 9.3). Security-critical and pure: the config
 * loader, the admin API (PUT /v1/redirect-origins) and the reset / verify flows all call these.
 *
 * The approach is "parse, then cross-check the raw text": the WHATWG parser is lenient on purpose
 * (it strips tabs and newlines, turns `\` into `/`, decodes `%6d`, maps fullwidth letters, accepts
 * `https:evil.com`), so every check that matters is also made on the raw string, and anything the
 * parser had to "repair" is refused instead of trusted.
 */

export type OriginEntryResult = { ok: true; origin: string } | { ok: false; reason: string };
export type RedirectUrlResult = { ok: true; url: string } | { ok: false };

/** Longest redirect URL accepted (SPEC 9.3). */
export const MAX_REDIRECT_URL_LENGTH = 2048;

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const HTTP_SCHEME_PREFIX = /^(https?):\/\//i;
const PORT_PATTERN = /^[1-9][0-9]{0,4}$/;
/** The only hosts for which a plain-http origin may be allow-listed. */
const HTTP_ALLOWED_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

interface RawAuthority {
  readonly scheme: "http" | "https";
  /** `host[:port]` as written (userinfo included, if any: it is refused later). */
  readonly authority: string;
  readonly host: string;
  /** Port text as written, or null when there is no `:port`. */
  readonly port: string | null;
  /** Everything after the authority (path, query, fragment), as written. */
  readonly rest: string;
}

/** Splits `scheme://authority rest` on the raw text, without any of the parser's repairs. */
function splitRawAuthority(raw: string): RawAuthority | null {
  const prefix = HTTP_SCHEME_PREFIX.exec(raw);
  if (prefix === null) return null;
  const scheme = prefix[1].toLowerCase() === "https" ? "https" : "http";
  const afterScheme = raw.slice(prefix[0].length);
  const end = afterScheme.search(/[/?#]/);
  const authority = end === -1 ? afterScheme : afterScheme.slice(0, end);
  const rest = end === -1 ? "" : afterScheme.slice(end);
  let host: string;
  let portPart: string;
  if (authority.includes("@")) {
    host = authority;
    portPart = "";
  } else if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close === -1) return null;
    host = authority.slice(0, close + 1);
    portPart = authority.slice(close + 1);
  } else {
    const colon = authority.indexOf(":");
    host = colon === -1 ? authority : authority.slice(0, colon);
    portPart = colon === -1 ? "" : authority.slice(colon);
  }
  if (portPart !== "" && !portPart.startsWith(":")) return null;
  return { scheme, authority, host, port: portPart === "" ? null : portPart.slice(1), rest };
}

function parseUrl(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

/**
 * Checks shared by allow-list entries and redirect URLs on the authority part. Returns the parsed
 * URL when the raw authority is exactly what the parser understood (modulo case and default port).
 */
function checkAuthority(raw: string, parts: RawAuthority): { ok: true; url: URL } | { ok: false; reason: string } {
  if (parts.authority.includes("@")) return { ok: false, reason: "a user name or password is not allowed" };
  if (parts.host === "") return { ok: false, reason: "the host is missing" };
  if (parts.host.endsWith(".")) return { ok: false, reason: "a host with a trailing dot is not allowed" };
  if (parts.port !== null && (!PORT_PATTERN.test(parts.port) || Number(parts.port) > 65_535)) {
    return { ok: false, reason: "the port is not a number between 1 and 65535" };
  }
  const url = parseUrl(raw);
  if (url === null) return { ok: false, reason: "not a valid absolute URL" };
  if (url.username !== "" || url.password !== "") return { ok: false, reason: "a user name or password is not allowed" };
  if (url.protocol !== `${parts.scheme}:`) return { ok: false, reason: "the scheme must be https or http" };
  // The parser rewrites some hosts (IPv4 shorthand like 0x7f.1, IPv6 spellings): refuse anything
  // that is not already in its canonical form, so what was reviewed is what gets compared.
  if (parts.host.toLowerCase() !== url.hostname) return { ok: false, reason: "the host is not in canonical form" };
  return { ok: true, url };
}

interface BareOriginRules {
  readonly allowHttpHost: (host: string) => boolean;
  readonly httpReason: string;
}

function normalizeBareOrigin(raw: unknown, rules: BareOriginRules): OriginEntryResult {
  if (typeof raw !== "string") return { ok: false, reason: "an origin must be a string" };
  if (raw.length === 0) return { ok: false, reason: "an origin must not be empty" };
  if (raw.length > MAX_REDIRECT_URL_LENGTH) return { ok: false, reason: "an origin must not be longer than 2048 characters" };
  if (!PRINTABLE_ASCII.test(raw)) return { ok: false, reason: "an origin must be printable ASCII with no whitespace" };
  if (raw.includes("*")) return { ok: false, reason: "wildcards are not allowed: list each origin exactly" };
  if (raw.includes("\\")) return { ok: false, reason: "a backslash is not allowed" };
  if (raw.includes("%")) return { ok: false, reason: "percent-encoding is not allowed in an origin" };
  if (raw.includes("@")) return { ok: false, reason: "a user name or password is not allowed" };
  if (raw.includes("?")) return { ok: false, reason: "an origin has no query: use scheme://host[:port]" };
  if (raw.includes("#")) return { ok: false, reason: "an origin has no fragment: use scheme://host[:port]" };
  const parts = splitRawAuthority(raw);
  if (parts === null) return { ok: false, reason: "an origin must be absolute and start with https:// (or http:// for localhost)" };
  if (parts.rest !== "" && parts.rest !== "/") return { ok: false, reason: "an origin has no path: use scheme://host[:port]" };
  const checked = checkAuthority(raw, parts);
  if (!checked.ok) return checked;
  if (parts.scheme === "http" && !rules.allowHttpHost(checked.url.hostname)) return { ok: false, reason: rules.httpReason };
  return { ok: true, origin: checked.url.origin };
}

/**
 * Validates and normalizes a redirect allow-list entry: a bare `https://host[:port]` origin, or
 * `http://` only for localhost, 127.0.0.1 and [::1]. Normalized form: lowercase scheme and host,
 * default port removed, no trailing slash.
 */
export function normalizeOriginEntry(raw: string): OriginEntryResult {
  return normalizeBareOrigin(raw, {
    allowHttpHost: (host: string): boolean => HTTP_ALLOWED_HOSTS.has(host),
    httpReason: "http is allowed only for localhost, 127.0.0.1 and [::1]: use https",
  });
}

/**
 * Validates and normalizes a CORS origin. Same rules as an allow-list entry except that plain http
 * is allowed for any host (CORS without credentials gates reads, not where a token is sent).
 */
export function normalizeCorsOrigin(raw: string): OriginEntryResult {
  return normalizeBareOrigin(raw, { allowHttpHost: (): boolean => true, httpReason: "" });
}

/**
 * SPEC 9.3: accepts `raw` only when it is an absolute http(s) URL whose origin is exactly one of
 * `allowedOrigins` (normalized entries). Returns the normalized URL, which is what callers must use.
 * Gives no reason on failure: callers answer one error code whatever the cause.
 */
export function validateRedirectUrl(raw: unknown, allowedOrigins: readonly string[]): RedirectUrlResult {
  if (typeof raw !== "string") return { ok: false };
  if (raw.length === 0 || raw.length > MAX_REDIRECT_URL_LENGTH) return { ok: false };
  // Printable ASCII only: no spaces, tabs or CR/LF (which the parser would silently strip), no
  // non-ASCII (which IDNA would map: fullwidth and look-alike letters).
  if (!PRINTABLE_ASCII.test(raw)) return { ok: false };
  // The parser treats `\` as `/` in special URLs: `https://evil.com\@myapp.com` would have host evil.com.
  if (raw.includes("\\")) return { ok: false };
  const parts = splitRawAuthority(raw);
  if (parts === null) return { ok: false };
  // Percent-encoded hosts (`%6dyapp.com`, `myapp%2ecom`) are decoded by the parser: refuse them.
  if (parts.authority.includes("%")) return { ok: false };
  const checked = checkAuthority(raw, parts);
  if (!checked.ok) return { ok: false };
  const origin = checked.url.origin;
  // Exact match only. This also enforces "http only when that exact http origin is listed".
  if (!allowedOrigins.includes(origin)) return { ok: false };
  // `https://myapp.com//evil.com/x`: an app that redirects to the path alone would send the user
  // to the scheme-relative `//evil.com/x`. Leading slashes collapse to one.
  if (checked.url.pathname.startsWith("//")) checked.url.pathname = `/${checked.url.pathname.replace(/^\/+/, "")}`;
  return { ok: true, url: checked.url.href };
}
