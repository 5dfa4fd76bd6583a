/**
 * Email addresses per SPEC 9.1. Deliberately stricter than RFC 5322: no quoted local parts, no
 * comments, no address literals, ASCII only. What passes is an address every mail provider and
 * every template can carry without escaping surprises.
 */

export type ParsedEmail = { ok: true; email: string; canonical: string } | { ok: false };

const MAX_LOCAL = 64;
const MAX_TOTAL = 254;
/** RFC 5322 atext plus the dot: excludes quotes, parentheses, commas, spaces, brackets, `\`, `;`, `:`. */
const LOCAL_CHARS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;
/** A DNS label: letters, digits, hyphens, not starting or ending with a hyphen. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * The form of an address that uniqueness, lookups and the login lockout key are decided on
 * (lowercase). The one definition of the rule: every place that needs it calls this.
 */
export function canonicalEmail(email: string): string {
  return email.toLowerCase();
}

/** Trims and checks an address; `canonical` (lowercase) is what uniqueness is decided on. */
export function parseEmail(raw: unknown): ParsedEmail {
  if (typeof raw !== "string") return { ok: false };
  const email = raw.trim();
  if (email.length === 0 || email.length > MAX_TOTAL || !PRINTABLE_ASCII.test(email)) return { ok: false };
  const at = email.indexOf("@");
  if (at <= 0 || email.indexOf("@", at + 1) !== -1) return { ok: false };
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > MAX_LOCAL || !LOCAL_CHARS.test(local)) return { ok: false };
  // Dot-atom: no leading, trailing or doubled dots in the local part.
  if (local.startsWith(".") || local.endsWith(".") || local.includes("..")) return { ok: false };
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return { ok: false };
  return { ok: true, email, canonical: canonicalEmail(email) };
}

