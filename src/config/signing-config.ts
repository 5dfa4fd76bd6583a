/**
 * `auth.signing` and `auth.token_claims` (SPEC 13): the checks that need more than the auth
 * section — the access-token TTL for scheduled rotation, the auth table for custom claims.
 */
import type { PathIssue } from "./issues.ts";
import { printable } from "./names.ts";
import type { AuthSection } from "./project-schema.ts";
import { didYouMean } from "./suggest.ts";
import type { SigningConfig, TableDef } from "./types.ts";

/** The JWKS is cached for this long by verifiers (SPEC 13); a new key is published this much earlier than its TTL alone needs. */
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * Claim names a custom column may not take: the registered claims of RFC 7519 §4.1, the claims
 * Latchkey itself puts in every access token, and claims that standard verifiers or gateways act
 * on (OAuth 2.0 / OIDC: `azp`, `scope`, `client_id`, `cnf`, `act`, `nonce`, `auth_time`, ...), so a
 * column value can never pose as one of them.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
  "sid", "pv", "email", "email_verified",
  "azp", "scope", "scp", "client_id", "cnf", "act", "may_act", "nonce", "auth_time", "acr", "amr",
  "at_hash", "c_hash", "typ", "kid", "alg",
]);

export function buildSigning(auth: AuthSection, issues: PathIssue[]): SigningConfig | undefined {
  const { algorithm, rotate_every: rotateEvery } = auth.signing;
  if (rotateEvery === null) return { algorithm, rotateEverySeconds: null };
  if (algorithm === "HS256") {
    issues.push({
      path: "auth.signing.rotate_every",
      message: "scheduled rotation needs a public key to publish ahead of use: set auth.signing.algorithm to EdDSA or ES256 (an HS256 secret rotates with POST /v1/rotate-jwt-secret)",
    });
    return undefined;
  }
  // A new key is published access_token_ttl + 5 min before it signs, and the key before it stays
  // published until its last token expires: a shorter period would never let a key sign alone.
  const leadSeconds = auth.access_token_ttl + JWKS_MAX_AGE_SECONDS;
  if (rotateEvery <= leadSeconds) {
    issues.push({
      path: "auth.signing.rotate_every",
      message: `must be longer than access_token_ttl + 5m (${leadSeconds}s): a new key is published that long before it starts signing`,
    });
    return undefined;
  }
  return { algorithm, rotateEverySeconds: rotateEvery };
}

/**
 * Every entry must be a non-hidden custom column of the auth table whose name is no reserved
 * claim, listed once. `tables` is null when the tables did not parse (then nothing is checked
 * here: the table issues explain why).
 */
export function checkTokenClaims(
  claims: readonly string[],
  tables: { readonly tables: readonly TableDef[]; readonly authTableName: string | null } | null,
  issues: PathIssue[],
): void {
  if (claims.length === 0 || tables === null) return;
  const authTable = tables.tables.find((t) => t.name === tables.authTableName);
  if (authTable === undefined) {
    issues.push({ path: "auth.token_claims", message: "needs an auth table (a table with auth_table: true) whose columns become claims" });
    return;
  }
  const names = authTable.columns.map((c) => c.name);
  const seen = new Set<string>();
  claims.forEach((name, i) => {
    const path = `auth.token_claims.${i}`;
    const column = authTable.columns.find((c) => c.name === name);
    if (seen.has(name)) issues.push({ path, message: `"${printable(name)}" is listed twice` });
    else if (RESERVED_CLAIMS.has(name)) {
      issues.push({ path, message: `"${name}" clashes with the registered claim "${name}" (rename the column to make it a claim)` });
    } else if (column === undefined) {
      issues.push({ path, message: `"${printable(name)}" is not a custom column of the auth table "${authTable.name}"${didYouMean(name, names)}` });
    } else if (column.hidden) {
      issues.push({ path, message: `"${name}" is a hidden column: hidden values never leave the server, so it cannot be a token claim` });
    }
    seen.add(name);
  });
}
