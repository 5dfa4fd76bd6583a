import { ApiError } from "../../http/errors.ts";
import { parseEmail } from "../../users/email.ts";

/**
 * Reads the `email` field of a request body (SPEC 9.1): missing or null → VALIDATION_REQUIRED_FIELD,
 * anything that is not a valid address → VALIDATION_INVALID_FIELD. The one place every endpoint
 * that takes an email (signup, login, forgot-password, resend-verification) validates it.
 */
export function readEmailField(body: Readonly<Record<string, unknown>>): { email: string; canonical: string } {
  if (body.email === undefined || body.email === null) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "email", message: '"email" is required.' });
  }
  const parsed = parseEmail(body.email);
  if (!parsed.ok) {
    throw new ApiError("VALIDATION_INVALID_FIELD", {
      field: "email",
      message: '"email" is not a valid email address.',
      suggestion: "Use a plain address like name@example.com (ASCII, one @, a domain with a dot).",
    });
  }
  return { email: parsed.email, canonical: parsed.canonical };
}
