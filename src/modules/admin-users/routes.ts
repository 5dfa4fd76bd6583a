import { Elysia } from "elysia";
import { requireAuthProject, type AppContext } from "../../http/context.ts";
import { readJsonObject } from "../../http/body.ts";
import { ok } from "../../http/respond.ts";
import { authorizeAdminRequest, waitForAdminWrite } from "../admin/guard.ts";
import { listAudit, parseAuditQuery } from "../audit/query.ts";
import { listUsers, parseUserListQuery } from "./list.ts";
import {
  adminDeleteUser, banUser, clearLockout, createUser, getUser, parseBan, parseCreateUser, parsePatchUser, parseSendReset,
  patchUser, revokeSessionsOf, sendPasswordReset, unbanUser, userSessions,
} from "./service.ts";

type Server = Parameters<AppContext["clientIp"]>[1];

/**
 * The query string as written: a parameter given twice becomes an array (refused as malformed),
 * where Elysia's parsed query would silently keep the last value.
 */
function queryParams(request: Request): Record<string, string | undefined> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URL(request.url).searchParams) {
    const prev = out[k];
    out[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return out as Record<string, string | undefined>;
}

/**
 * The admin users API and the audit log (SPEC 12), behind the admin key. The key is checked
 * first (never read from the URL); then the project must have an auth table (users routes).
 */
export function adminUsersRoutes(ctx: AppContext) {
  const admin = async (projectId: string, request: Request, server: Server, set: { headers: Record<string, string | number> }) => {
    const { p, client } = await authorizeAdminRequest(ctx, projectId, request, server, set);
    return { p, client };
  };
  const adminAuth = async (projectId: string, request: Request, server: Server, set: { headers: Record<string, string | number> }) => {
    const a = await admin(projectId, request, server, set);
    requireAuthProject(ctx, projectId);
    return a;
  };
  return new Elysia({ prefix: "/p/:projectId/v1" })
    .onBeforeHandle(waitForAdminWrite(ctx))
    .get("/users", async ({ params, request, server, set }) => {
      const { p } = await adminAuth(params.projectId, request, server, set);
      return ok(set, await listUsers(p, parseUserListQuery(p, queryParams(request))));
    })
    .post("/users", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      const input = parseCreateUser(p, await readJsonObject(request));
      return ok(set, { user: await createUser(p, input, client) }, { status: 201 });
    })
    .get("/users/:id", async ({ params, request, server, set }) => {
      const { p } = await adminAuth(params.projectId, request, server, set);
      return ok(set, { user: await getUser(p, params.id) });
    })
    .patch("/users/:id", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      const input = parsePatchUser(p, await readJsonObject(request));
      return ok(set, { user: await patchUser(p, params.id, input, client) });
    })
    .delete("/users/:id", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      await readJsonObject(request, { allowEmpty: true });
      await adminDeleteUser(p, params.id, client);
      return ok(set, { ok: true });
    })
    .post("/users/:id/ban", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      const input = parseBan(p, await readJsonObject(request, { allowEmpty: true }));
      return ok(set, { user: await banUser(p, params.id, input, client) });
    })
    .post("/users/:id/unban", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      await readJsonObject(request, { allowEmpty: true });
      return ok(set, { user: await unbanUser(p, params.id, client) });
    })
    .post("/users/:id/clear-lockout", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      await readJsonObject(request, { allowEmpty: true });
      return ok(set, { user: await clearLockout(p, params.id, client) });
    })
    .get("/users/:id/sessions", async ({ params, request, server, set }) => {
      const { p } = await adminAuth(params.projectId, request, server, set);
      return ok(set, { sessions: await userSessions(p, params.id) });
    })
    .post("/users/:id/revoke-sessions", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      await readJsonObject(request, { allowEmpty: true });
      return ok(set, { revoked: await revokeSessionsOf(p, params.id, client) });
    })
    .post("/users/:id/send-password-reset", async ({ params, request, server, set }) => {
      const { p, client } = await adminAuth(params.projectId, request, server, set);
      const redirectUrl = await parseSendReset(p, await readJsonObject(request));
      await sendPasswordReset(p, params.id, redirectUrl, client);
      return ok(set, { ok: true });
    })
    .get("/audit", async ({ params, request, server, set }) => {
      const { p } = await admin(params.projectId, request, server, set);
      return ok(set, await listAudit(p, parseAuditQuery(p, queryParams(request))));
    });
}
