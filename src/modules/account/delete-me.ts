/** DELETE /auth/me (SPEC 11): the user deletes their own account, password required. */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { deleteUser } from "../users/delete.ts";
import type { Authenticated } from "../session/authenticate.ts";
import { checkPasswordGuess, readPasswordField } from "./guess.ts";

export type DeleteMeDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;

const FIELDS: ReadonlySet<string> = new Set(["password"]);

export function parseDeleteMe(body: JsonObject): string {
  refuseUnknownFields(body, FIELDS, null);
  return readPasswordField(body);
}

export async function deleteMyAccount(p: DeleteMeDeps, auth: Authenticated, password: string, client: ClientMeta): Promise<void> {
  await checkPasswordGuess(p, auth.user, password, { failedEvent: "account_delete_failed", client });
  const nowMs = p.deps.now();
  await p.store.transaction(async (tx) => {
    const user = await tx.users.findById(auth.user.id);
    // Changed or gone while the password was checked: the token is stale.
    if (!user || user.password_version !== auth.user.password_version) throw new ApiError("AUTH_INVALID_TOKEN");
    await deleteUser(p, tx, user, nowMs, { notice: true });
  });
  p.log.event("account_deleted", { user_id: auth.user.id, ...eventFields(client) });
}
