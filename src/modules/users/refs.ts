import type { TableDef } from "../../config/types.ts";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { usersOf, type SqlValue } from "./repo.ts";

/**
 * A ref value must name an existing row. Checked inside the writing transaction so the answer can
 * name the field (SQLite's FK error does not); the FK itself still guards against races.
 */
export function checkRefTargets(p: ProjectRuntime, table: TableDef, values: Readonly<Record<string, SqlValue>>): void {
  const users = usersOf(p);
  for (const col of table.columns) {
    const v = values[col.name];
    if (col.type !== "ref" || !col.refTable || typeof v !== "string") continue;
    if (!users.rowExists(col.refTable, v)) {
      throw new ApiError("VALIDATION_INVALID_FIELD", {
        field: col.name,
        message: `"${col.name}" refers to a ${col.refTable} row that does not exist.`,
      });
    }
  }
}
