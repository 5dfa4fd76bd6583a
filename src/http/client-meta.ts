import type { ResponseSet } from "./respond.ts";

/** What the auth modules record about the caller: resolved client IP, user agent, request id. */
export interface ClientMeta {
  readonly ip: string;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

const MAX_USER_AGENT = 256;

/** `set` carries the request id the app assigned in onRequest (X-Request-Id). */
export function clientMetaOf(request: Request, ip: string, set?: ResponseSet): ClientMeta {
  const ua = request.headers.get("user-agent");
  const rid = set?.headers["x-request-id"];
  return { ip, userAgent: ua === null ? null : ua.slice(0, MAX_USER_AGENT), requestId: rid === undefined ? null : String(rid) };
}

/** Fields every security event carries (SPEC 9.6): who asked from where, and which request. */
export function eventFields(client: ClientMeta): { ip: string; user_agent: string | null; request_id: string | null } {
  return { ip: client.ip, user_agent: client.userAgent, request_id: client.requestId };
}
