/**
 * Deleting a user (SPEC 11 self-delete, SPEC 12 admin delete). Rows of other tables follow their
 * declared `on_delete`; a `restrict` reference that still points at the user blocks the delete
 * with 409 CONFLICT naming the table. Sessions, refresh and link tokens, the ban/login state and
 * pending email changes go with the user. Synchronous: call inside one transaction.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { quoteIdent } from "../../storage/schema/sql-text.ts";
import { queueTemplateMail } from "../../mail/mailer.ts";
import { usersOf, type UserRow } from "./repo.ts";
import { removeUserStatus } from "./status.ts";

function conflict(table: string | null): ApiError {
  return new ApiError("CONFLICT", {
    message: table
      ? `Rows of table "${table}" still refer to this user and their reference is "restrict".`
      : "Rows of another table still refer to this user and their reference is \"restrict\".",
    suggestion: table ? `Delete or reassign those ${table} rows first.` : "Delete or reassign the referring rows first.",
  });
}

/** The first table whose `restrict` reference still points at `userId`, or null. */
function blockingTable(p: ProjectRuntime, userId: string): string | null {
  const authTable = p.config.authTableName;
  for (const table of p.config.tables) {
    for (const col of table.columns) {
      if (col.type !== "ref" || col.refTable !== authTable || (col.onDelete ?? "restrict") !== "restrict") continue;
      const hit = p.db.query(`SELECT 1 AS x FROM ${quoteIdent(table.name)} WHERE ${quoteIdent(col.name)} = ? LIMIT 1`).get(userId);
      if (hit !== null) return table.name;
    }
  }
  return null;
}

export function deleteUser(p: ProjectRuntime, user: UserRow, nowMs: number, opts: { notice: boolean }): void {
  const blocked = blockingTable(p, user.id);
  if (blocked !== null) throw conflict(blocked);
  if (opts.notice) queueTemplateMail(p, { template: "account_deleted", user: { id: user.id, email: user.email }, nowMs });
  const users = usersOf(p);
  try {
    p.db.query(`DELETE FROM ${quoteIdent(users.table.name)} WHERE "id" = ?`).run(user.id);
  } catch (e) {
    // A restrict reference further down a cascade chain: the foreign key is the final guard.
    if ((e as { code?: unknown }).code === "SQLITE_CONSTRAINT_FOREIGNKEY") throw conflict(null);
    throw e;
  }
  p.db.query("DELETE FROM _refresh_tokens WHERE session_id IN (SELECT id FROM _sessions WHERE user_id = ?)").run(user.id);
  p.db.query("DELETE FROM _sessions WHERE user_id = ?").run(user.id);
  p.db.query("DELETE FROM _link_tokens WHERE user_id = ?").run(user.id);
  p.db.query("DELETE FROM _email_changes WHERE user_id = ?").run(user.id);
  removeUserStatus(p, user.id);
}
