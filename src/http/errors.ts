/**
 * The one table of public error codes: the only place a code and its HTTP status live.
 * Throw `ApiError`; the single error handler turns it into the envelope of SPEC §5.
 */

export const ERROR_STATUS = {
  VALIDATION_MALFORMED_JSON: 400,
  VALIDATION_REQUIRED_FIELD: 400,
  VALIDATION_INVALID_FIELD: 400,
  VALIDATION_UNKNOWN_FIELD: 400,
  VALIDATION_WEAK_PASSWORD: 400,
  VALIDATION_REDIRECT_URL: 400,
  AUTH_INVALID_LINK_TOKEN: 400,
  AUTH_REQUIRED: 401,
  AUTH_TOKEN_EXPIRED: 401,
  AUTH_INVALID_TOKEN: 401,
  AUTH_INVALID_CREDENTIALS: 401,
  AUTH_INVALID_REFRESH_TOKEN: 401,
  ADMIN_KEY_REQUIRED: 401,
  ADMIN_KEY_INVALID: 401,
  PUBLIC_KEY_REQUIRED: 401,
  PUBLIC_KEY_INVALID: 401,
  AUTH_EMAIL_NOT_VERIFIED: 403,
  AUTH_USER_BANNED: 403,
  NOT_FOUND: 404,
  PROJECT_NOT_FOUND: 404,
  AUTH_NOT_ENABLED: 404,
  USER_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  VALIDATION_DUPLICATE: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Default messages and suggestions ("errors that teach"); a throw site may override either. */
const DEFAULT_TEXT: Record<ErrorCode, { message: string; suggestion?: string }> = {
  VALIDATION_MALFORMED_JSON: { message: "The request body is not a JSON object.", suggestion: "Send a JSON object, e.g. {\"email\": \"...\"}." },
  VALIDATION_REQUIRED_FIELD: { message: "A required field is missing.", suggestion: "Add the field named in `field`." },
  VALIDATION_INVALID_FIELD: { message: "A field has an invalid value.", suggestion: "Check the type and format of the field named in `field`." },
  VALIDATION_UNKNOWN_FIELD: { message: "This endpoint does not accept that field.", suggestion: "Remove the field named in `field`." },
  VALIDATION_WEAK_PASSWORD: { message: "The password does not meet the password policy.", suggestion: "Choose a longer password that is not a common one." },
  VALIDATION_REDIRECT_URL: { message: "redirect_url is not on this project's list of allowed redirect origins.", suggestion: "Use an https URL whose origin is in allowed_redirect_origins." },
  AUTH_INVALID_LINK_TOKEN: { message: "This link is invalid, expired or was already used.", suggestion: "Request a new link." },
  AUTH_REQUIRED: { message: "Authentication is required.", suggestion: "Send `Authorization: Bearer <access token>`." },
  AUTH_TOKEN_EXPIRED: { message: "The access token has expired.", suggestion: "Get a new one from POST /auth/refresh." },
  AUTH_INVALID_TOKEN: { message: "The access token is not valid.", suggestion: "Log in again or refresh the session." },
  AUTH_INVALID_CREDENTIALS: { message: "Invalid email or password." },
  AUTH_INVALID_REFRESH_TOKEN: { message: "The refresh token is not valid.", suggestion: "Log in again." },
  ADMIN_KEY_REQUIRED: { message: "This endpoint needs the project's admin key.", suggestion: "Send `X-Admin-Key: sk_...`." },
  ADMIN_KEY_INVALID: { message: "The admin key is not valid.", suggestion: "Use the project's current sk_ key; `latchkey keys rotate` recovers a lost one." },
  PUBLIC_KEY_REQUIRED: { message: "This project requires its public key.", suggestion: "Send `X-Public-Key: pk_...`." },
  PUBLIC_KEY_INVALID: { message: "The public key is not valid.", suggestion: "Use the project's current pk_ key." },
  AUTH_EMAIL_NOT_VERIFIED: { message: "The email address is not verified yet.", suggestion: "Follow the link in the verification email, or ask for a new one with POST /auth/resend-verification." },
  AUTH_USER_BANNED: { message: "This account is banned.", suggestion: "Contact the operator of this app." },
  USER_NOT_FOUND: { message: "No such user." },
  CONFLICT: { message: "The change conflicts with other data.", suggestion: "Remove or change the rows named in the message first." },
  NOT_FOUND: { message: "No such route." },
  PROJECT_NOT_FOUND: { message: "No such project." },
  AUTH_NOT_ENABLED: { message: "This project has no auth table.", suggestion: "Mark one table with `auth_table: true` in the project file." },
  METHOD_NOT_ALLOWED: { message: "This method is not allowed on this route." },
  VALIDATION_DUPLICATE: { message: "That value is already registered.", suggestion: "Log in instead, or use another email." },
  PAYLOAD_TOO_LARGE: { message: "The request body is larger than 64 KiB." },
  RATE_LIMITED: { message: "Too many requests.", suggestion: "Wait for the time given in Retry-After." },
  INTERNAL_ERROR: { message: "Something went wrong on our side.", suggestion: "Try again; report the request_id if it persists." },
  SERVICE_UNAVAILABLE: { message: "The server is busy or its storage is unavailable.", suggestion: "Retry after the time given in Retry-After." },
};

export interface ApiErrorOptions {
  message?: string;
  suggestion?: string;
  field?: string;
  /** Seconds, for 429 and 503. */
  retryAfterSeconds?: number;
  /** Extra response headers (e.g. `Allow` for 405). */
  headers?: Record<string, string>;
  /** Internal cause: logged, never serialized. */
  cause?: unknown;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly suggestion?: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, opts: ApiErrorOptions = {}) {
    super(opts.message ?? DEFAULT_TEXT[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.suggestion = opts.suggestion ?? DEFAULT_TEXT[code].suggestion;
    this.field = opts.field;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.headers = opts.headers;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; suggestion?: string; field?: string; request_id?: string; retry_after?: number };
}

/** Serializes an ApiError into the public envelope. Only public fields; never the cause. */
export function errorBody(err: ApiError, requestId: string | undefined): ErrorBody {
  const body: ErrorBody["error"] = { code: err.code, message: err.message };
  if (err.suggestion) body.suggestion = err.suggestion;
  if (err.field) body.field = err.field;
  if (requestId) body.request_id = requestId;
  // SPEC 5: a 429 also says in its body how many seconds to wait (the Retry-After header's value).
  if (err.status === 429 && err.retryAfterSeconds !== undefined) body.retry_after = err.retryAfterSeconds;
  return { error: body };
}
