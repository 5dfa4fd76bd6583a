/**
 * Turns a constraint failure the store raised while writing the auth table (StoreConstraintError,
 * the same from every engine) into the public error it stands for. Uniqueness is decided by the
 * database (a pre-check would race), so a unique failure is the normal path for a duplicate; every
 * other constraint (FK, CHECK, NOT NULL, a value of the wrong type) is a bad input and answers 400,
 * never 500. Only column names reach the response, never SQL text or the offending value.
 */
import { ApiError } from "../../http/errors.ts";
import type { TableDef } from "../../config/types.ts";
import { StoreConstraintError } from "../../storage/errors.ts";

const EMAIL_CANONICAL = "_email_canonical";

export function constraintErrorToApi(e: unknown, table: TableDef): ApiError | null {
  if (!(e instanceof StoreConstraintError)) return null;
  const columns = e.columns;
  if (e.kind === "unique") {
    if (columns.includes(EMAIL_CANONICAL)) {
      return new ApiError("VALIDATION_DUPLICATE", { field: "email", message: "This email is already registered.", cause: e });
    }
    const field = columns[0];
    return new ApiError("VALIDATION_DUPLICATE", {
      field,
      message: field ? `Another account already has this value of "${field}".` : "A unique value is already taken.",
      suggestion: "Choose another value.",
      cause: e,
    });
  }
  if (e.kind === "not_null" && columns[0]) {
    return new ApiError("VALIDATION_REQUIRED_FIELD", { field: columns[0], message: `"${columns[0]}" is required.`, cause: e });
  }
  const field = e.kind === "foreign_key" ? table.columns.find((c) => c.type === "ref")?.name : columns[0];
  return new ApiError("VALIDATION_INVALID_FIELD", {
    field,
    message: e.kind === "foreign_key" ? "A reference points to a row that does not exist." : "A field has a value this table does not accept.",
    cause: e,
  });
}
