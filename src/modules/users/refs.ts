import type { TableDef } from "../../config/types.ts";
import { ApiError } from "../../http/errors.ts";
import type { StoreOps } from "../../storage/store.ts";
import type { SqlValue } from "../../users/model.ts";

/**
 * A ref value must name an existing row. Checked inside the writing transaction (`tx`) so the
 * answer can name the field (SQLite's FK error does not); the FK itself still guards against races.
 */
export async function checkRefTargets(tx: Pick<StoreOps, "users">, table: TableDef, values: Readonly<Record<string, SqlValue>>): Promise<void> {
  for (const col of table.columns) {
    const v = values[col.name];
    if (col.type !== "ref" || !col.refTable || typeof v !== "string") continue;
    if (!(await tx.users.refExists(col.refTable, v))) {
      throw new ApiError("VALIDATION_INVALID_FIELD", {
        field: col.name,
        message: `"${col.name}" refers to a ${col.refTable} row that does not exist.`,
      });
    }
  }
}
