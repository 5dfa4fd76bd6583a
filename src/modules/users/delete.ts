/**
 * Deleting a user (SPEC 11 self-delete, SPEC 12 admin delete). Rows of other tables follow their
 * declared `on_delete`; a `restrict` reference that still points at the user blocks the delete
 * with 409 CONFLICT naming the table. Sessions, refresh and link tokens, the ban/login state and
 * pending email changes go with the user (one store operation, users.remove). Call inside one
 * transaction (`tx`): the account-deleted notice commits with the deletion.
 */
import { ApiError } from "../../http/errors.ts";
import type { StoreOps } from "../../storage/store.ts";
import { queueAccountDeletedMail, type MailDeps } from "../../mail/events.ts";
import type { UserRow } from "../../users/model.ts";

function conflict(table: string | null): ApiError {
  return new ApiError("CONFLICT", {
    message: table
      ? `Rows of table "${table}" still refer to this user and their reference is "restrict".`
      : "Rows of another table still refer to this user and their reference is \"restrict\".",
    suggestion: table ? `Delete or reassign those ${table} rows first.` : "Delete or reassign the referring rows first.",
  });
}

export async function deleteUser(p: MailDeps, tx: StoreOps, user: UserRow, nowMs: number, opts: { notice: boolean }): Promise<void> {
  // The notice reads the user's columns, so it is queued before the row goes; a refusal below
  // rolls it back with the transaction.
  if (opts.notice) await queueAccountDeletedMail(p, tx, { id: user.id, email: user.email }, nowMs);
  const done = await tx.users.remove(user.id);
  if (!done.ok) throw conflict(done.restrictedBy);
}
