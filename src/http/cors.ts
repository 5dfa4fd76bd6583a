export const CORS_ALLOWED_HEADERS = "Authorization, Content-Type, X-Admin-Key, X-Public-Key, X-Request-Id";
/** Response headers a browser script may read (SPEC 5): when to retry, and which request to report. */
export const CORS_EXPOSED_HEADERS = "Retry-After, X-Request-Id";
export const CORS_ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/**
 * CORS headers for a response. `*` allows any origin without credentials (the default); a list
 * echoes an allowed origin with `Vary: Origin`. Credentials are never allowed: tokens travel in
 * headers, not cookies.
 */
export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> {
  if (allowed.includes("*")) return ANY_ORIGIN;
  const h: Record<string, string> = { vary: "Origin" };
  if (origin && allowed.includes(origin.toLowerCase())) {
    h["access-control-allow-origin"] = origin;
    h["access-control-expose-headers"] = CORS_EXPOSED_HEADERS;
  }
  return h;
}

const ANY_ORIGIN: Readonly<Record<string, string>> = Object.freeze({
  "access-control-allow-origin": "*",
  "access-control-expose-headers": CORS_EXPOSED_HEADERS,
});
