/** Console pages for users: list with search and filters, the user page, and its actions. */
import type { ColumnDef } from "../../../config/types.ts";
import { ApiError } from "../../../http/errors.ts";
import { userModelOf } from "../../../users/model.ts";
import { canonicalEmail } from "../../../users/email.ts";
import { listUsers, parseUserListQuery } from "../../admin-users/list.ts";
import {
  adminDeleteUser, banUser, clearLockout, getUser, parseBan, parsePatchUser, parseSendReset, patchUser, revokeOneSession,
  revokeSessionsOf, sendPasswordReset, unbanUser, userSessions,
} from "../../admin-users/service.ts";
import { esc, page, postForm, table, when } from "../html.ts";
import type { ConsoleHandler, ConsoleRequest, PageResult } from "../routes.ts";

const PAGE_SIZE = "50";

function requireAuthTable(r: ConsoleRequest): void {
  if (r.p.config.authTableName === null) throw new ApiError("AUTH_NOT_ENABLED");
}

function yesNo(v: unknown, bad = false): string {
  return v ? `<span class="badge${bad ? " bad" : ""}">yes</span>` : "no";
}

function select(id: string, name: string, label: string, value: string | null, options: readonly [string, string][]): string {
  return `<div class="field"><label for="${id}">${label}</label><select id="${id}" name="${name}">${options
    .map(([v, t]) => `<option value="${esc(v)}"${v === (value ?? "") ? " selected" : ""}>${esc(t)}</option>`)
    .join("")}</select></div>`;
}

export async function userListPage(r: ConsoleRequest): Promise<PageResult> {
  requireAuthTable(r);
  const q = (r.query.get("q") ?? "").trim();
  const verified = r.query.get("verified") ?? "";
  const banned = r.query.get("banned") ?? "";
  const cursor = r.query.get("cursor");
  const apiQuery: Record<string, string> = { limit: PAGE_SIZE };
  if (q) apiQuery.q = q;
  if (verified === "true" || verified === "false") apiQuery.verified = verified;
  if (banned === "true" || banned === "false") apiQuery.banned = banned;
  if (cursor) apiQuery.cursor = cursor;
  const { users, next_cursor } = await listUsers(r.p, parseUserListQuery(r.p, apiQuery));
  const any: [string, string] = ["", "any"];
  const filters = `<form method="get" action="${r.base}/users" class="filters" role="search">
<div class="field"><label for="q">Search <span class="hint">email prefix or user id</span></label><input id="q" name="q" type="search" value="${esc(q)}" maxlength="254"></div>
${select("verified", "verified", "Verified", verified, [any, ["true", "verified"], ["false", "not verified"]])}
${select("banned", "banned", "Banned", banned, [any, ["true", "banned"], ["false", "not banned"]])}
<button type="submit">Search</button></form>`;
  const rows = users.map((u) => [
    `<a href="${r.base}/users/${esc(u.id)}">${esc(u.email)}</a>`,
    `<code class="hide-sm">${esc(u.id)}</code>`,
    yesNo(u.email_verified),
    yesNo(u.banned, true),
    when(u.created_at),
  ]);
  const keep = new URLSearchParams({ ...(q ? { q } : {}), ...(verified ? { verified } : {}), ...(banned ? { banned } : {}) });
  const pager = next_cursor
    ? `<p class="pager"><a href="${r.base}/users?${esc(new URLSearchParams([...keep, ["cursor", next_cursor]]).toString())}" rel="next">Next page →</a></p>`
    : "";
  const first = cursor ? `<p class="pager"><a href="${r.base}/users?${esc(keep.toString())}">← First page</a></p>` : "";
  return { html: page(r.frame("Users", "users"), `${filters}${table(["Email", '<span class="hide-sm">Id</span>', "Verified", "Banned", "Created"], rows, "Users")}${first}${pager}`) };
}

/** The editable value of a column as the form shows it. */
function formValue(col: ColumnDef, v: unknown): string {
  if (v === null || v === undefined) return "";
  if (col.type === "json") return JSON.stringify(v);
  return String(v);
}

function columnInput(col: ColumnDef, v: unknown): string {
  const id = `col-${col.name}`;
  const name = `col.${col.name}`;
  const flags = [col.type + (col.type === "enum" ? `: ${col.values?.join(", ")}` : ""), col.required ? "required" : "optional", col.readonly ? "readonly for users" : "", col.hidden ? "hidden from users" : ""]
    .filter(Boolean)
    .join(", ");
  const label = `<label for="${id}">${esc(col.name)} <span class="hint">(${esc(flags)})</span></label>`;
  const value = formValue(col, v);
  let input: string;
  if (col.type === "bool" || col.type === "enum") {
    const opts: [string, string][] = col.type === "bool" ? [["true", "true"], ["false", "false"]] : (col.values ?? []).map((x) => [x, x]);
    if (!col.required || value === "") opts.unshift(["", "(empty)"]);
    input = `<select id="${id}" name="${esc(name)}">${opts.map(([o, t]) => `<option value="${esc(o)}"${o === value ? " selected" : ""}>${esc(t)}</option>`).join("")}</select>`;
  } else if (col.type === "text" || col.type === "json") {
    input = `<textarea id="${id}" name="${esc(name)}" rows="3">${esc(value)}</textarea>`;
  } else {
    const type = col.type === "date" ? "date" : "text";
    input = `<input id="${id}" name="${esc(name)}" type="${type}" value="${esc(value)}"${col.type === "int" || col.type === "timestamp" ? ' inputmode="numeric"' : ""}>`;
  }
  return `<div class="field">${label}${input}</div>`;
}

/** A form string turned into the JSON value the API would receive, for the API's own validation. */
function jsonValue(col: ColumnDef, raw: string): unknown {
  if (col.type === "string" || col.type === "text") return raw;
  if (raw.trim() === "") return null;
  switch (col.type) {
    case "int":
    case "timestamp":
    case "float":
      return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case "bool":
      return raw === "true" ? true : raw === "false" ? false : raw;
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw new ApiError("VALIDATION_INVALID_FIELD", { field: col.name, message: `"${col.name}" is not valid JSON.` });
      }
    default:
      return raw;
  }
}

export async function userPage(r: ConsoleRequest, id: string): Promise<PageResult> {
  requireAuthTable(r);
  const u = await getUser(r.p, id);
  const sessions = await userSessions(r.p, id);
  const table_ = userModelOf(r.p).table;
  const uid = esc(u.id);
  const action = (name: string): string => `${r.base}/users/${uid}/${name}`;
  const summary = `<dl class="props">
<dt>Id</dt><dd><code>${uid}</code></dd>
<dt>Email</dt><dd>${esc(u.email)}</dd>
<dt>Email verified</dt><dd>${yesNo(u.email_verified)}</dd>
<dt>Banned</dt><dd>${u.banned ? `<span class="badge bad">banned</span> until ${u.banned_until ? when(u.banned_until) : "lifted"}${u.ban_reason ? ` — ${esc(u.ban_reason)}` : ""}` : "no"}</dd>
<dt>Created</dt><dd>${when(u.created_at)}</dd>
<dt>Updated</dt><dd>${when(u.updated_at)}</dd>
<dt>Last login</dt><dd>${when(u.last_login_at)}</dd>
</dl>`;
  const edit = postForm(
    action("edit"),
    r.session.csrf,
    `<div class="field"><label for="col-email">email</label><input id="col-email" name="email" type="email" value="${esc(u.email)}" required></div>
${table_.columns.map((c) => columnInput(c, u[c.name])).join("\n")}
<button type="submit">Save changes</button>`,
    { label: "Edit user" },
  );
  const origins = await r.p.store.settings.redirectOrigins();
  const actions = `<div class="actions">
${u.email_verified ? "" : `<div class="card">${postForm(action("verify"), r.session.csrf, `<button type="submit">Mark email verified</button>`)}</div>`}
<div class="card">${postForm(
    action("send-password-reset"),
    r.session.csrf,
    `<div class="field"><label for="redirect_url">Reset link goes to <span class="hint">an allowed redirect URL</span></label><input id="redirect_url" name="redirect_url" type="url" required value="${esc(origins[0] ? origins[0] + "/" : "")}"></div><button type="submit">Send password reset</button>`,
  )}</div>
<div class="card">${postForm(action("clear-lockout"), r.session.csrf, `<p class="hint">Lets the user try their password again after too many failures.</p><button type="submit" class="secondary">Clear login lockout</button>`)}</div>
<div class="card">${u.banned
    ? postForm(action("unban"), r.session.csrf, `<button type="submit">Unban</button>`)
    : postForm(
        action("ban"),
        r.session.csrf,
        `<div class="field"><label for="ban-until">Banned until <span class="hint">UTC; empty = until unbanned</span></label><input id="ban-until" name="until" type="datetime-local"></div>
<div class="field"><label for="ban-reason">Reason <span class="hint">optional, at most 500 characters</span></label><input id="ban-reason" name="reason" maxlength="500"></div>
<button type="submit" class="danger">Ban user</button>`,
        { confirm: "Ban this user and end all of their sessions?" },
      )}</div>
</div>`;
  const sessionRows = sessions.map((s) => [
    when(s.created_at),
    when(s.last_used_at),
    esc(s.ip ?? "—"),
    `<span class="hide-sm">${esc((s.user_agent ?? "—").slice(0, 80))}</span>`,
    postForm(action(`sessions/${esc(s.id)}/revoke`), r.session.csrf, `<button type="submit" class="secondary" aria-label="Revoke session started ${esc(s.created_at)}">Revoke</button>`, { cls: "inline" }),
  ]);
  const sessionsHtml = `${table(["Started", "Last used", "IP", '<span class="hide-sm">User agent</span>', "Action"], sessionRows, "Live sessions")}
${sessions.length ? postForm(action("revoke-sessions"), r.session.csrf, `<button type="submit" class="secondary">Revoke all sessions</button>`) : ""}`;
  const del = postForm(
    action("delete"),
    r.session.csrf,
    `<div class="field"><label for="confirm-email">Type the user's email to confirm</label><input id="confirm-email" name="confirm" autocomplete="off" required></div>
<button type="submit" class="danger">Delete user</button>`,
    { label: "Delete user" },
  );
  return {
    html: page(
      r.frame(`User ${String(u.email)}`, "users"),
      `<p><a href="${r.base}/users">← All users</a> · <a href="${r.base}/audit?user_id=${uid}">Audit events of this user</a></p>
${summary}<h2>Actions</h2>${actions}<h2>Columns</h2>${edit}<h2>Live sessions (${sessions.length})</h2>${sessionsHtml}<h2>Delete</h2>${del}`,
    ),
  };
}

const formOf = (form: URLSearchParams | null): URLSearchParams => form ?? new URLSearchParams();
const back = (r: ConsoleRequest, id: string, notice: string): PageResult => ({ redirect: `${r.base}/users/${encodeURIComponent(id.toLowerCase())}?notice=${notice}` });

const editUser: ConsoleHandler = async (r, params, form) => {
  requireAuthTable(r);
  const f = formOf(form);
  const current = await getUser(r.p, params.id);
  const body: Record<string, unknown> = {};
  const email = f.get("email");
  if (email !== null && email !== current.email) body.email = email;
  for (const col of userModelOf(r.p).table.columns) {
    const raw = f.get(`col.${col.name}`);
    if (raw === null) continue;
    const value = jsonValue(col, raw);
    if (JSON.stringify(value) !== JSON.stringify(current[col.name] ?? null)) body[col.name] = value;
  }
  if (Object.keys(body).length > 0) await patchUser(r.p, params.id, parsePatchUser(r.p, body), r.client);
  return back(r, params.id, "saved");
};

/** `datetime-local` has no zone: the console says UTC and sends it as UTC. */
function banUntil(raw: string | null): string | undefined {
  if (raw === null || raw.trim() === "") return undefined;
  const v = raw.trim();
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v) ? `${v.length === 16 ? v + ":00" : v}Z` : v;
}

export const userActions: readonly ["GET" | "POST", string, ConsoleHandler][] = [
  ["POST", "/users/:id/edit", editUser],
  ["POST", "/users/:id/verify", async (r, params) => {
    requireAuthTable(r);
    await patchUser(r.p, params.id, parsePatchUser(r.p, { email_verified: true }), r.client);
    return back(r, params.id, "verified");
  }],
  ["POST", "/users/:id/ban", async (r, params, form) => {
    requireAuthTable(r);
    const f = formOf(form);
    const body: Record<string, unknown> = {};
    const until = banUntil(f.get("until"));
    if (until !== undefined) body.until = until;
    const reason = f.get("reason");
    if (reason) body.reason = reason;
    await banUser(r.p, params.id, parseBan(r.p, body), r.client);
    return back(r, params.id, "banned");
  }],
  ["POST", "/users/:id/unban", async (r, params) => {
    requireAuthTable(r);
    await unbanUser(r.p, params.id, r.client);
    return back(r, params.id, "unbanned");
  }],
  ["POST", "/users/:id/clear-lockout", async (r, params) => {
    requireAuthTable(r);
    await clearLockout(r.p, params.id, r.client);
    return back(r, params.id, "lockout_cleared");
  }],
  ["POST", "/users/:id/send-password-reset", async (r, params, form) => {
    requireAuthTable(r);
    const url = await parseSendReset(r.p, { redirect_url: formOf(form).get("redirect_url") ?? undefined });
    await sendPasswordReset(r.p, params.id, url, r.client);
    return back(r, params.id, "reset_sent");
  }],
  ["POST", "/users/:id/revoke-sessions", async (r, params) => {
    requireAuthTable(r);
    await revokeSessionsOf(r.p, params.id, r.client);
    return back(r, params.id, "sessions_revoked");
  }],
  ["POST", "/users/:id/sessions/:sid/revoke", async (r, params) => {
    requireAuthTable(r);
    await revokeOneSession(r.p, params.id, params.sid, r.client);
    return back(r, params.id, "session_revoked");
  }],
  ["POST", "/users/:id/delete", async (r, params, form) => {
    requireAuthTable(r);
    const u = await getUser(r.p, params.id);
    const typed = (formOf(form).get("confirm") ?? "").trim();
    if (canonicalEmail(typed) !== canonicalEmail(String(u.email))) {
      throw new ApiError("VALIDATION_INVALID_FIELD", { field: "confirm", message: "Type the user's email exactly to confirm the deletion.", suggestion: "Nothing was deleted." });
    }
    await adminDeleteUser(r.p, params.id, r.client);
    return { redirect: `${r.base}/users?notice=deleted` };
  }],
];

