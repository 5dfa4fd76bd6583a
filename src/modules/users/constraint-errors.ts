/**
 * Turns a constraint failure raised by SQLite while writing the auth table into the public error
 * it stands for. Uniqueness is decided by the database (a pre-check would race), so the UNIQUE
 * failure is the normal path for a duplicate; every other constraint (FK, CHECK, NOT NULL, STRICT
 * type) is a bad input and answers 400, never 500. The SQLite message is parsed for the column
 * name only; no SQL text reaches the response.
 */
import { ApiError } from "../../http/errors.ts";
import type { TableDef } from "../../config/types.ts";

const EMAIL_CANONICAL = "_email_canonical";

export function constraintErrorToApi(e: unknown, table: TableDef): ApiError | null {
  if (!(e instanceof Error)) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_CONSTRAINT")) return null;
  const columns = columnsNamed(e.message, table);
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
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
  if (code === "SQLITE_CONSTRAINT_NOTNULL" && columns[0]) {
    return new ApiError("VALIDATION_REQUIRED_FIELD", { field: columns[0], message: `"${columns[0]}" is required.`, cause: e });
  }
  const field = code === "SQLITE_CONSTRAINT_FOREIGNKEY" ? table.columns.find((c) => c.type === "ref")?.name : columns[0];
  return new ApiError("VALIDATION_INVALID_FIELD", {
    field,
    message: code === "SQLITE_CONSTRAINT_FOREIGNKEY" ? "A reference points to a row that does not exist." : "A field has a value this table does not accept.",
    cause: e,
  });
}

/** Column names of `table` mentioned in an SQLite constraint message, in order of appearance. */
function columnsNamed(message: string, table: TableDef): string[] {
  const known = [EMAIL_CANONICAL, ...table.columns.map((c) => c.name)];
  const found: { name: string; at: number }[] = [];
  for (const name of known) {
    const re = new RegExp(`(?:^|[\\s.,"(])${name}(?:$|[\\s.,")])`);
    const m = re.exec(message);
    if (m) found.push({ name, at: m.index });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.name);
}
