/** Reading a link token from a request (reset-password body, GET /auth/verify query). */
import { ApiError } from "../../http/errors.ts";
import { isLinkTokenHashLive, type LinkTokenKind } from "../../mail/link-tokens.ts";
import type { ProjectRuntime } from "../../projects/runtime.ts";

/** A missing or non-string token is a malformed request (400, counts toward no limit). */
export function requireLinkToken(raw: unknown): string {
  if (raw === undefined || raw === null || raw === "") {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "token", message: '"token" is required.' });
  }
  if (typeof raw !== "string") throw new ApiError("VALIDATION_INVALID_FIELD", { field: "token", message: '"token" must be a string.' });
  return raw;
}

/** Throws AUTH_INVALID_LINK_TOKEN unless the token could be consumed right now (a read, no change). */
export async function requireLiveLinkToken(p: Pick<ProjectRuntime, "store">, kind: LinkTokenKind, token: string, nowMs: number): Promise<void> {
  if (!(await isLinkTokenHashLive(p.store, kind, token, nowMs))) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
}
