import type { PasswordPolicy } from "../../config/types.ts";
import { ApiError } from "../../http/errors.ts";
import { isCommonPassword } from "./common-passwords.ts";

/**
 * SPEC 9.2, checked before any hashing so a refused password costs no hash work. Length is in
 * Unicode code points; the password is used exactly as received (no trimming, no folding).
 * Returns the password, or throws with `field` naming it. Reads only the project's password policy.
 */
export type PasswordPolicyDeps = { readonly config: { readonly auth: { readonly password: PasswordPolicy } } };

export function checkPasswordPolicy(p: PasswordPolicyDeps, password: unknown, field: string): string {
  if (password === undefined || password === null) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field, message: `"${field}" is required.` });
  }
  if (typeof password !== "string") {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field, message: `"${field}" must be a string.` });
  }
  // NUL is refused for every hasher: bcrypt reads its key as a C string, and HMAC-based KDFs
  // (scrypt) pad keys with zero bytes, so "x\0..." could match a hash of "x" (see README).
  if (password.includes("\u0000")) {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field, message: `"${field}" must not contain the NUL character.` });
  }
  const { minLength, maxLength, rejectCommon } = p.config.auth.password;
  const min = Math.max(8, minLength);
  const length = codePoints(password, maxLength + 1);
  if (length < min) {
    throw new ApiError("VALIDATION_WEAK_PASSWORD", {
      field,
      message: `The password must be at least ${min} characters long.`,
      suggestion: `Choose a password of ${min} to ${maxLength} characters.`,
    });
  }
  if (length > maxLength) {
    throw new ApiError("VALIDATION_WEAK_PASSWORD", {
      field,
      message: `The password must be at most ${maxLength} characters long.`,
      suggestion: `Choose a password of ${min} to ${maxLength} characters.`,
    });
  }
  if (rejectCommon && isCommonPassword(password)) {
    throw new ApiError("VALIDATION_WEAK_PASSWORD", {
      field,
      message: "This password is on the list of commonly used passwords.",
      suggestion: "Choose a password that is not easy to guess, e.g. several unrelated words.",
    });
  }
  return password;
}

/** Counts code points, stopping early past `stopAt` (a 64 KiB password need not be walked whole). */
function codePoints(s: string, stopAt: number): number {
  let n = 0;
  for (const _ of s) {
    if (++n > stopAt) break;
  }
  return n;
}
