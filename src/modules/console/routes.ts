/**
 * The admin console (`/p/{id}/admin`): server-rendered pages over the same services as the admin
 * API (admin-users/*, admin/service.ts, audit/query.ts). No rule lives here twice: a form is turned
 * into the API's JSON body and goes through the API's parser and service.
 *
 * Security: the admin key is posted once (sign-in) and exchanged for a console session cookie
 * (session.ts). Every POST needs the session's CSRF token and a same-origin `Origin`; every
 * response carries a strict CSP (no inline script), X-Frame-Options, no-referrer and no-store.
 */
import { Elysia } from "elysia";
import { requireProject, type AppContext } from "../../http/context.ts";
import { ApiError } from "../../http/errors.ts";
import { readLimited } from "../../http/body.ts";
import { clientMetaOf, eventFields, type ClientMeta } from "../../http/client-meta.ts";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { authorizeAdmin } from "../admin/service.ts";
import { CONSOLE_HEADERS, esc, page, type Frame, type Section } from "./html.ts";
import { COOKIE_NAME, CONSOLE_SESSION_MS, csrfMatches, endConsoleSession, findConsoleSession, startConsoleSession, type ConsoleSession } from "./session.ts";
import { signInPage } from "./pages/sign-in.ts";
import { userActions, userListPage, userPage } from "./pages/users.ts";
import { projectActions, projectPages } from "./pages/project.ts";
import css from "./assets/console.css" with { type: "text" };
import js from "./assets/console.js" with { type: "text" };

type Server = Parameters<AppContext["clientIp"]>[1];

/** What a signed-in console handler gets. */
export interface ConsoleRequest {
  readonly p: ProjectRuntime;
  readonly base: string;
  readonly session: ConsoleSession;
  readonly client: ClientMeta;
  readonly query: URLSearchParams;
  readonly request: Request;
  frame(title: string, section: Section, notice?: Frame["notice"]): Frame;
}

export type PageResult = { html: string; status?: number } | { redirect: string } | { response: Response };

const NOTICES: Readonly<Record<string, string>> = {
  saved: "Saved.",
  banned: "User banned; every session of the user has ended.",
  unbanned: "Ban lifted; login lockout cleared.",
  verified: "Email marked verified.",
  reset_sent: "Password reset email queued.",
  lockout_cleared: "Login lockout cleared.",
  session_revoked: "Session revoked.",
  sessions_revoked: "Every session of the user has ended.",
  deleted: "User deleted.",
  origins_saved: "Redirect origins saved.",
  jwt_rotated: "JWT secret rotated.",
  retried: "Message queued again.",
  signed_out: "Signed out.",
  ended: "Your console session ended (signed out, expired, or the admin key was rotated). Sign in again.",
};

function html(body: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...CONSOLE_HEADERS, "content-type": "text/html; charset=utf-8", ...extra } });
}

function redirect(location: string, extra: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { ...CONSOLE_HEADERS, location, ...extra } });
}

function cookieOf(request: Request): string | null {
  const header = request.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === COOKIE_NAME) return part.slice(i + 1).trim();
  }
  return null;
}

function sessionCookie(p: ProjectRuntime, base: string, value: string, maxAgeSeconds: number): string {
  const secure = p.deps.publicUrl.startsWith("https:") ? "; Secure" : "";
  return `${COOKIE_NAME}=${value}; Path=${base}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`;
}

/**
 * A state-changing request must come from a page of this server. `Origin` must be this server's
 * origin; under `Referrer-Policy: no-referrer` browsers send `Origin: null` on form posts, and then
 * `Sec-Fetch-Site: same-origin` (set by the browser, not by page script) must vouch for it.
 */
function sameOrigin(p: ProjectRuntime, request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") return false;
  const origin = request.headers.get("origin");
  if (origin === "null") return site === "same-origin";
  if (!origin) return false;
  return origin === new URL(request.url).origin || origin === new URL(p.deps.publicUrl).origin;
}

async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) return new URLSearchParams();
  return new URLSearchParams(await readLimited(request));
}

function refused(p: ProjectRuntime, base: string, status: number, text: string): Response {
  const f: Frame = { base, projectName: p.config.name, title: "Request refused", section: null, notice: { kind: "error", text } };
  return html(page(f, `<p><a href="${base}/users">Back to the console</a></p>`), status);
}

export function consoleRoutes(ctx: AppContext) {
  const baseOf = (p: ProjectRuntime): string => `/p/${encodeURIComponent(p.id)}/admin`;
  /** The first page after sign-in: users, or the audit log for a project without an auth table. */
  const homeOf = (p: ProjectRuntime): string => `${baseOf(p)}/${p.config.authTableName === null ? "audit" : "users"}`;

  /** Signed-in pages and actions. `form` is null for GET. */
  const guarded = async (
    projectId: string,
    request: Request,
    server: Server,
    set: { headers: Record<string, string | number> },
    fn: (r: ConsoleRequest, form: URLSearchParams | null) => PageResult | Promise<PageResult>,
  ): Promise<Response> => {
    const p = requireProject(ctx, projectId);
    const base = baseOf(p);
    const token = cookieOf(request);
    const session = await findConsoleSession(p, token);
    const isPost = request.method === "POST";
    if (!session) {
      if (isPost) return refused(p, base, 401, "Your console session has ended. Sign in again.");
      if (token === null) return redirect(`${base}/sign-in`);
      return redirect(`${base}/sign-in?notice=ended`, { "set-cookie": sessionCookie(p, base, "", 0) });
    }
    let form: URLSearchParams | null = null;
    if (isPost) {
      if (!sameOrigin(p, request)) return refused(p, base, 403, "Refused: this request did not come from a console page (Origin check).");
      form = await readForm(request);
      if (!csrfMatches(session.csrf, form.get("csrf"))) return refused(p, base, 403, "Refused: the form's CSRF token is missing or wrong. Reload the page and try again.");
    }
    const url = new URL(request.url);
    const client = clientMetaOf(request, ctx.clientIp(request, server), set);
    const r: ConsoleRequest = {
      p, base, session, client, query: url.searchParams, request,
      frame: (title, section, notice) => {
        const code = url.searchParams.get("notice");
        return { base, projectName: p.config.name, title, section, csrf: session.csrf, notice: notice ?? (code && NOTICES[code] ? { kind: "ok", text: NOTICES[code] } : null) };
      },
    };
    const out = await fn(r, form);
    if ("response" in out) return out.response;
    if ("redirect" in out) return redirect(out.redirect);
    return html(out.html, out.status ?? 200);
  };

  const signInResponse = (p: ProjectRuntime, status: number, error: string | null, noticeCode: string | null): Response => {
    const notice = error ? { kind: "error" as const, text: error } : noticeCode && NOTICES[noticeCode] ? { kind: "ok" as const, text: NOTICES[noticeCode] } : null;
    return html(signInPage({ base: baseOf(p), projectName: p.config.name, title: "Sign in", section: null, notice }), status);
  };

  const app = new Elysia({ prefix: "/p/:projectId/admin" })
    .get("/assets/console.css", () => new Response(css, { headers: { ...CONSOLE_HEADERS, "content-type": "text/css; charset=utf-8" } }))
    .get("/assets/console.js", () => new Response(js, { headers: { ...CONSOLE_HEADERS, "content-type": "text/javascript; charset=utf-8" } }))
    .get("/", async ({ params, request }) => {
      const p = requireProject(ctx, params.projectId);
      return redirect((await findConsoleSession(p, cookieOf(request))) ? homeOf(p) : `${baseOf(p)}/sign-in`);
    })
    .get("/sign-in", async ({ params, request }) => {
      const p = requireProject(ctx, params.projectId);
      if (await findConsoleSession(p, cookieOf(request))) return redirect(homeOf(p));
      return signInResponse(p, 200, null, new URL(request.url).searchParams.get("notice"));
    })
    .post("/sign-in", async ({ params, request, server, set }) => {
      const p = requireProject(ctx, params.projectId);
      const base = baseOf(p);
      if (!sameOrigin(p, request)) return refused(p, base, 403, "Refused: this request did not come from a console page (Origin check).");
      const form = await readForm(request);
      try {
        // The API's own check: failures count toward admin_key_failures_per_ip.
        await authorizeAdmin(p, form.get("key"), clientMetaOf(request, ctx.clientIp(request, server), set));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        const text = e.code === "RATE_LIMITED"
          ? `Too many wrong admin keys from your address. Try again in ${e.retryAfterSeconds ?? 60} s.`
          : e.code === "ADMIN_KEY_REQUIRED" ? "Enter the project's admin key." : "That admin key is not valid for this project.";
        const res = signInResponse(p, e.status, text, null);
        if (e.retryAfterSeconds !== undefined) res.headers.set("retry-after", String(e.retryAfterSeconds));
        return res;
      }
      const { token } = await startConsoleSession(p);
      p.log.event("admin.console_signed_in", eventFields(clientMetaOf(request, ctx.clientIp(request, server), set)));
      return redirect(homeOf(p), { "set-cookie": sessionCookie(p, base, token, CONSOLE_SESSION_MS / 1000) });
    })
    .post("/sign-out", ({ params, request, server, set }) =>
      guarded(params.projectId, request, server, set, async (r) => {
        await endConsoleSession(r.p, r.session.tokenHash);
        return { response: redirect(`${r.base}/sign-in?notice=signed_out`, { "set-cookie": sessionCookie(r.p, r.base, "", 0) }) };
      }),
    );

  // Every page and action: [method, path, handler].
  for (const [method, path, fn] of [...userActions, ...projectActions, ...projectPages]) {
    const handler = ({ params, request, server, set }: { params: Record<string, string>; request: Request; server: Server; set: { headers: Record<string, string | number> } }) =>
      guarded(params.projectId, request, server, set, (r, form) => withErrors(r, () => fn(r, params, form), backOf(r, params)));
    if (method === "GET") app.get(path, handler);
    else app.post(path, handler);
  }
  app.get("/users", ({ params, request, server, set }) => guarded(params.projectId, request, server, set, (r) => withErrors(r, () => userListPage(r))));
  app.get("/users/:id", ({ params, request, server, set }) => guarded(params.projectId, request, server, set, (r) => withErrors(r, () => userPage(r, params.id))));
  return app;
}

function backOf(r: ConsoleRequest, params: Record<string, string>): string {
  return params.id && /^[0-9a-fA-F-]{36}$/.test(params.id) ? `${r.base}/users/${params.id}` : `${r.base}/${r.request.url.split("/admin/")[1]?.split(/[/?]/)[0] ?? "users"}`;
}

export type ConsoleHandler = (r: ConsoleRequest, params: Record<string, string>, form: URLSearchParams | null) => PageResult | Promise<PageResult>;

/** An API error (bad input, unknown user...) becomes a page with the error's message, not JSON. */
async function withErrors(r: ConsoleRequest, fn: () => PageResult | Promise<PageResult>, back?: string): Promise<PageResult> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof ApiError) || e.status >= 500) throw e;
    const text = `${e.message}${e.field ? ` (field: ${e.field})` : ""}`;
    const href = back ?? `${r.base}/users`;
    return { html: page(r.frame("Could not do that", null, { kind: "error", text }), `<p>${esc(e.suggestion ?? "")}</p><p><a href="${esc(href)}">Go back</a></p>`), status: e.status };
  }
}
