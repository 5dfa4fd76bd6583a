/**
 * `mail.from`: one address with an optional display name. It goes straight into a mail header,
 * so anything that could smuggle a second header or a second recipient is refused.
 */

const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Display name without quotes: no characters with a meaning in an address list. */
const BARE_NAME = /^[^\x00-\x1f\x7f<>"@,;:\\()[\]]*$/;
/** Quoted display name: anything printable but `"` and `\`. */
const QUOTED_NAME = /^"[^\x00-\x1f\x7f"\\]*"$/;
const NAME_AND_ADDRESS = /^(.*?)\s*<([^<>]*)>$/s;

/** Returns what is wrong with a `from` value, or null when it is a single well-formed address. */
export function checkMailFrom(raw: string): string | null {
  const problem = "must be a single address, optionally with a display name: \"Name <no-reply@example.com>\"";
  if (/[\x00-\x1f\x7f]/.test(raw)) return "must not contain control characters (CR, LF, tab)";
  if (raw.length > 320) return "is too long";
  const value = raw.trim();
  const withName = NAME_AND_ADDRESS.exec(value);
  if (withName === null) return ADDRESS.test(value) && value.length <= 254 ? null : problem;
  const name = withName[1];
  const address = withName[2];
  if (!ADDRESS.test(address) || address.length > 254) return problem;
  if (name !== "" && !BARE_NAME.test(name) && !QUOTED_NAME.test(name)) {
    return "display name has special characters: put it in double quotes (\"Acme, Inc.\" <no-reply@example.com>)";
  }
  return null;
}

/** `"<name> <no-reply@localhost>"`, quoting the name when it needs it. */
export function defaultMailFrom(projectName: string): string {
  const name = BARE_NAME.test(projectName)
    ? projectName
    : `"${projectName.replace(/[\x00-\x1f\x7f"\\]/g, "")}"`;
  return `${name} <no-reply@localhost>`;
}
