import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import type { Authenticated } from "./authenticate.ts";

const LOGOUT_FIELDS = new Set(["all"]);

/** `{}` or an empty body ends this session; `{"all": true}` ends every session of the user. */
export function parseLogoutInput(body: JsonObject): { all: boolean } {
  refuseUnknownFields(body, LOGOUT_FIELDS, null);
  if (body.all !== undefined && typeof body.all !== "boolean") {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field: "all", message: '"all" must be true or false.' });
  }
  return { all: body.all === true };
}

export async function logout(p: Pick<ProjectRuntime, "deps" | "log" | "store">, auth: Authenticated, opts: { all: boolean }, client: ClientMeta): Promise<void> {
  const nowMs = p.deps.now();
  if (opts.all) await p.store.sessions.revokeUser(auth.user.id, nowMs, { reason: "logout_all" });
  else await p.store.sessions.revoke(auth.sessionId, nowMs, "logout");
  p.log.event(opts.all ? "logout_all" : "logout", { user_id: auth.user.id, session_id: auth.sessionId, ...eventFields(client) });
}
