export const CORS_ALLOWED_HEADERS = "Authorization, Content-Type, X-Admin-Key, X-Public-Key, X-Request-Id";
export const CORS_ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/**
 * CORS headers for a response. `*` allows any origin without credentials (the default); a list
 * echoes an allowed origin with `Vary: Origin`. Credentials are never allowed: tokens travel in
 * headers, not cookies.
 */
export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> {
  if (allowed.includes("*")) return { "access-control-allow-origin": "*" };
  const h: Record<string, string> = { vary: "Origin" };
  if (origin && allowed.includes(origin.toLowerCase())) h["access-control-allow-origin"] = origin;
  return h;
}
