import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { ApiError } from "../../http/errors.ts";
import { readColumnValues, refuseUnknownFields, writableColumns } from "../users/columns.ts";
import { constraintErrorToApi } from "../users/constraint-errors.ts";
import { checkRefTargets } from "../users/refs.ts";
import { usersOf, type SqlValue } from "../users/repo.ts";
import type { Authenticated } from "./authenticate.ts";

/** Validates a PATCH /auth/me body: writable custom columns only (no email, password or readonly column). */
export function parseProfilePatch(p: ProjectRuntime, body: JsonObject): Record<string, SqlValue> {
  const table = usersOf(p).table;
  refuseUnknownFields(body, new Set(writableColumns(table).map((c) => c.name)), table);
  return readColumnValues(table, body, { mode: "update", nowMs: p.deps.now(), random: p.deps.random });
}

/** Applies the change in one transaction; a database constraint failure becomes a 400/409. */
export function updateProfile(p: ProjectRuntime, auth: Authenticated, values: Record<string, SqlValue>): Record<string, unknown> {
  const users = usersOf(p);
  const nowIso = new Date(p.deps.now()).toISOString();
  try {
    const row = p.db
      .transaction(() => {
        checkRefTargets(p, users.table, values);
        return users.update(auth.user.id, values, nowIso);
      })
      .immediate();
    if (!row) throw new ApiError("AUTH_INVALID_TOKEN");
    return users.toPublic(row);
  } catch (e) {
    throw constraintErrorToApi(e, users.table) ?? e;
  }
}
