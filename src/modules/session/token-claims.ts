/**
 * `auth.token_claims` (SPEC 13): auth-table columns copied into access tokens as their JSON values,
 * and into forward-auth headers as `X-Latchkey-Claim-<Name>`. The loader guarantees each name is a
 * non-hidden custom column of the auth table that clashes with no registered claim.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { authTableOf, decodeColumn } from "../../users/model.ts";

/** Claim name -> JSON value (null when the column has no value). */
export function customClaimsOf(p: Pick<ProjectRuntime, "config" | "id">, row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const columns = authTableOf(p).columns;
  for (const name of p.config.auth.tokenClaims) {
    const col = columns.find((c) => c.name === name);
    if (col) out[name] = decodeColumn(col, row[name]);
  }
  return out;
}

/** `plan_tier` -> `X-Latchkey-Claim-Plan-Tier`. */
export function claimHeaderName(claim: string): string {
  return `X-Latchkey-Claim-${claim.split("_").filter((w) => w !== "").map((w) => w[0].toUpperCase() + w.slice(1)).join("-")}`;
}

/**
 * A claim value as a header value, percent-encoded as encodeURIComponent does (letters, digits
 * and `-_.!~*'()` stay as they are, so `admin` is `admin` and `Ada Lovelace` is `Ada%20Lovelace`):
 * a value never carries CR, LF or non-ASCII into a header. Strings are encoded as they are;
 * numbers, booleans and JSON values as their JSON text. null means "no header".
 */
export function claimHeaderValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return encodeURIComponent(typeof value === "string" ? value : JSON.stringify(value));
}
