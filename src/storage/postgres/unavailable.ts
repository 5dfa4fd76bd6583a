/**
 * Errors of Bun's SQL client that mean "the database cannot be reached now" (refused, cut, timed
 * out, shutting down, out of connections), not "this request is wrong": the request gets 503 with
 * Retry-After and the server carries on; the pool reconnects by itself once the database is back.
 */
const CLIENT_CODES = /^(ERR_POSTGRES_(CONNECTION_CLOSED|CONNECTION_REFUSED|CONNECTION_TIMEOUT|IDLE_TIMEOUT|LIFETIME_TIMEOUT|TLS_NOT_AVAILABLE|TLS_UPGRADE_FAILED)|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)$/;
/** SQLSTATE classes 08 (connection exception), 57P (operator intervention: shutdown), 53300 (too many connections). */
const SERVER_STATES = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;

export function isPgUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; errno?: unknown; sqlState?: unknown };
  if (typeof e.code === "string" && CLIENT_CODES.test(e.code)) return true;
  for (const state of [e.errno, e.sqlState, e.code]) if (typeof state === "string" && SERVER_STATES.test(state)) return true;
  return false;
}
