import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { ApiError } from "../../http/errors.ts";
import { readColumnValues, refuseUnknownFields, writableColumns } from "../users/columns.ts";
import { constraintErrorToApi } from "../users/constraint-errors.ts";
import { checkRefTargets } from "../users/refs.ts";
import { userModelOf, type SqlValue } from "../../users/model.ts";
import type { Authenticated } from "./authenticate.ts";

export type UpdateProfileDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "store">;

/** Validates a PATCH /auth/me body: writable custom columns only (no email, password or readonly column). */
export function parseProfilePatch(p: Pick<ProjectRuntime, "config" | "deps" | "id">, body: JsonObject): Record<string, SqlValue> {
  const table = userModelOf(p).table;
  refuseUnknownFields(body, new Set(writableColumns(table).map((c) => c.name)), table);
  return readColumnValues(table, body, { mode: "update", nowMs: p.deps.now(), random: p.deps.random });
}

/** Applies the change in one transaction; a database constraint failure becomes a 400/409. */
export async function updateProfile(p: UpdateProfileDeps, auth: Authenticated, values: Record<string, SqlValue>): Promise<Record<string, unknown>> {
  const model = userModelOf(p);
  const nowIso = new Date(p.deps.now()).toISOString();
  try {
    const row = await p.store.transaction(async (tx) => {
      await checkRefTargets(tx, model.table, values);
      return tx.users.update(auth.user.id, values, nowIso);
    });
    if (!row) throw new ApiError("AUTH_INVALID_TOKEN");
    return model.toPublic(row);
  } catch (e) {
    throw constraintErrorToApi(e, model.table) ?? e;
  }
}
