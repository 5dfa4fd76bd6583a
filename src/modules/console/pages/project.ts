/** Console pages for the project: audit log, redirect origins, keys, JWT secret, schema, outbox. */
import { ApiError } from "../../../http/errors.ts";
import { listAudit, parseAuditQuery } from "../../audit/query.ts";
import { getRedirectOrigins, putRedirectOrigins, rotateJwtSecret, rotateKeys } from "../../admin/service.ts";
import { RETRIABLE_TEMPLATES, outboxStatus, retryFailedMessage, type OutboxMessageView } from "../../admin/outbox.ts";
import { parseSendReset } from "../../admin-users/service.ts";
import { esc, page, postForm, table, when, CONSOLE_HEADERS } from "../html.ts";
import { endAllConsoleSessions, COOKIE_NAME } from "../session.ts";
import type { ConsoleHandler, ConsoleRequest, PageResult } from "../routes.ts";
import { ORIGINS_KEY } from "../../../storage/settings.ts";
import { readSeenHashes } from "../../../storage/keys.ts";

async function auditPage(r: ConsoleRequest): Promise<PageResult> {
  const q: Record<string, string> = { limit: "50" };
  for (const k of ["user_id", "type", "since", "cursor"] as const) {
    const v = (r.query.get(k) ?? "").trim();
    if (v) q[k] = v;
  }
  // A date-only `since` from the form means the start of that day (UTC).
  if (q.since && /^\d{4}-\d{2}-\d{2}$/.test(q.since)) q.since += "T00:00:00Z";
  const { events, next_cursor } = await listAudit(r.p, parseAuditQuery(r.p, q));
  const filters = `<form method="get" action="${r.base}/audit" class="filters" role="search">
<div class="field"><label for="type">Event type <span class="hint">e.g. user.login_failed</span></label><input id="type" name="type" value="${esc(q.type ?? "")}" maxlength="64"></div>
<div class="field"><label for="user_id">User id</label><input id="user_id" name="user_id" value="${esc(q.user_id ?? "")}" maxlength="36"></div>
<div class="field"><label for="since">Since <span class="hint">date (UTC)</span></label><input id="since" name="since" type="date" value="${esc((q.since ?? "").slice(0, 10))}"></div>
<button type="submit">Filter</button></form>`;
  const rows = events.map((e) => [
    when(e.at),
    `<code>${esc(e.type)}</code>`,
    e.user_id ? `<a href="${r.base}/users/${esc(e.user_id)}"><code>${esc(e.user_id.slice(0, 8))}…</code></a>` : "—",
    esc(e.ip ?? "—"),
    `<code class="wrap">${esc(JSON.stringify(e.details))}</code>`,
  ]);
  const keep = Object.entries(q).filter(([k]) => k !== "cursor" && k !== "limit");
  const pager = next_cursor ? `<p class="pager"><a rel="next" href="${r.base}/audit?${esc(new URLSearchParams([...keep, ["cursor", next_cursor]]).toString())}">Older events →</a></p>` : "";
  return { html: page(r.frame("Audit log", "audit"), `${filters}${table(["At", "Type", "User", "IP", "Details"], rows, "Audit events, newest first")}${pager}`) };
}

async function originsPage(r: ConsoleRequest): Promise<PageResult> {
  const current = await getRedirectOrigins(r.p);
  const declaredRaw = (await r.p.store.settings.get(ORIGINS_KEY))?.declared ?? null;
  const declared: string[] | null = declaredRaw === null ? null : (JSON.parse(declaredRaw) as string[]);
  const fromFile = new Set(declared ?? []);
  const inForce = new Set(current);
  const rows = [...new Set([...current, ...(declared ?? [])])].map((o) => [
    `<code>${esc(o)}</code>`,
    fromFile.has(o) ? "yes" : "no",
    inForce.has(o) ? "yes" : "no",
    fromFile.has(o) && inForce.has(o) ? "from the file" : fromFile.has(o) ? '<span class="badge bad">removed by the API</span>' : '<span class="badge">added by the API</span>',
  ]);
  const intro = declared === null
    ? "<p>The project file declares no <code>allowed_redirect_origins</code>: the list below is managed through the API and this console only.</p>"
    : "<p>The project file declares the origins marked “in the file”. Changes made here (or through the API) stay in force until the file's list itself is edited; then the file wins at the next boot or reload.</p>";
  const form = postForm(
    `${r.base}/origins`,
    r.session.csrf,
    `<div class="field" style="max-width:none"><label for="origins">Allowed redirect origins <span class="hint">one per line, like https://myapp.com</span></label><textarea id="origins" name="origins" spellcheck="false">${esc(current.join("\n"))}</textarea></div><button type="submit">Save origins</button>`,
  );
  return { html: page(r.frame("Redirect origins", "origins"), `${intro}${table(["Origin", "In the file", "In force", "Source"], rows, "Redirect origins")}<h2>Edit</h2>${form}`) };
}

const confirmBox = (id: string, text: string): string =>
  `<div class="field"><label><input type="checkbox" id="${id}" name="confirm" value="yes" required> ${esc(text)}</label></div>`;

function keysPage(r: ConsoleRequest): PageResult {
  const keys = postForm(
    `${r.base}/keys/rotate`,
    r.session.csrf,
    `<div class="field"><label for="which">Keys to rotate</label><select id="which" name="which"><option value="admin">admin key</option><option value="public">public key</option><option value="both">both keys</option></select></div>
${confirmBox("confirm-keys", "I understand: the old key stops working at once, and rotating the admin key ends every console session (this one too).")}
<button type="submit" class="danger">Rotate keys</button>`,
    { confirm: "Rotate the key now? The old key stops working at once." },
  );
  const jwt = postForm(
    `${r.base}/jwt/rotate`,
    r.session.csrf,
    `${confirmBox("confirm-jwt", "I understand: every access token issued so far is refused at once; apps must refresh.")}<button type="submit" class="danger">Rotate the JWT secret</button>`,
    { confirm: "Rotate the JWT secret now?" },
  );
  return {
    html: page(
      r.frame("Keys and JWT secret", "keys"),
      `<p>Keys are stored only as hashes: a new key is shown once, right after the rotation.</p><h2>Project keys</h2>${keys}<h2>JWT signing secret</h2>${jwt}`,
    ),
  };
}

const rotateKeysAction: ConsoleHandler = async (r, _params, form) => {
  if (form?.get("confirm") !== "yes") throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "confirm", message: "Tick the confirmation box to rotate keys.", suggestion: "Nothing was rotated." });
  const which = form.get("which");
  if (which !== "admin" && which !== "public" && which !== "both") throw new ApiError("VALIDATION_INVALID_FIELD", { field: "which", message: "Choose admin, public or both." });
  // The console session is the authorization: the rotation replaces the keys stored right now.
  const grant = { seen: await readSeenHashes(r.p.store.keys) };
  const out = await rotateKeys(r.p, { [which]: true }, grant, r.client);
  const shown = [out.admin_key ? ["admin key", "new-admin-key", out.admin_key] : null, out.public_key ? ["public key", "new-public-key", out.public_key] : null].filter(
    (x): x is string[] => x !== null,
  );
  const adminRotated = out.admin_key !== undefined;
  if (adminRotated) await endAllConsoleSessions(r.p);
  const body = `<p role="status">The new ${shown.map((s) => s[0]).join(" and ")} ${shown.length > 1 ? "are" : "is"} shown <strong>once</strong>: copy ${shown.length > 1 ? "them" : "it"} now. Only a hash is kept.</p>
${shown.map(([label, id, key]) => `<div class="field" style="max-width:none"><label for="${id}">New ${label}</label><div class="key-once"><input id="${id}" readonly value="${esc(key)}" autocomplete="off" spellcheck="false"><button type="button" data-copy="${id}">Copy</button></div></div>`).join("")}
${adminRotated ? `<p>Your console session has ended with the old admin key. <a href="${r.base}/sign-in">Sign in with the new key</a>.</p>` : `<p><a href="${r.base}/keys">Back to keys</a></p>`}`;
  const f = r.frame("Keys rotated", "keys");
  const html = page(adminRotated ? { ...f, csrf: undefined } : f, body);
  const headers: Record<string, string> = { ...CONSOLE_HEADERS, "content-type": "text/html; charset=utf-8" };
  if (adminRotated) headers["set-cookie"] = `${COOKIE_NAME}=; Path=${r.base}; Max-Age=0; HttpOnly; SameSite=Strict${r.p.deps.publicUrl.startsWith("https:") ? "; Secure" : ""}`;
  return { response: new Response(html, { status: 200, headers }) };
};

async function schemaPage(r: ConsoleRequest): Promise<PageResult> {
  const tables = r.p.config.tables
    .map((t) => {
      const rows = t.columns.map((c) => [
        `<code>${esc(c.name)}</code>`,
        esc(c.type + (c.type === "enum" ? ` (${c.values?.join(", ")})` : c.type === "ref" ? ` → ${c.refTable}` : "")),
        [c.required ? "required" : "", c.unique ? "unique" : "", c.index ? "index" : "", c.readonly ? "readonly" : "", c.hidden ? "hidden" : "", c.hasDefault ? `default ${JSON.stringify(c.default)}` : ""]
          .filter(Boolean)
          .map(esc)
          .join(", ") || "—",
      ]);
      return `<h3>${esc(t.name)}${t.authTable ? ' <span class="badge">auth table</span>' : ""}</h3>${table(["Column", "Type", "Rules"], rows, `Columns of ${t.name}`)}`;
    })
    .join("");
  const history = await r.p.store.admin.schemaHistory(200);
  const rows = history.map((h) => [when(h.applied_at), esc(h.kind), `<code>${esc(h.table_name)}${h.column_name ? "." + esc(h.column_name) : ""}</code>`, h.destructive ? '<span class="badge bad">destructive</span> ' + esc(h.description) : esc(h.description)]);
  return {
    html: page(
      r.frame("Schema", "schema"),
      `<p>Read-only: the schema comes from the project file (<code>${esc(r.p.config.filePath.split("/").pop() ?? "")}</code>) and changes when the file does.</p>${tables}<h2>History (newest first)</h2>${table(["Applied", "Change", "Where", "Description"], rows, "Schema history")}`,
    ),
  };
}

async function outboxPage(r: ConsoleRequest): Promise<PageResult> {
  const { pending, failed, messages } = await outboxStatus(r.p);
  const origin = (await r.p.store.settings.redirectOrigins())[0];
  const retry = (m: OutboxMessageView): string => {
    if (m.status !== "failed") return "";
    if (!RETRIABLE_TEMPLATES.has(m.template)) return '<span class="hint">cannot be rebuilt</span>';
    const url = m.template === "reset_password"
      ? `<label for="ru-${esc(m.id)}" class="hint">Reset link goes to</label> <input id="ru-${esc(m.id)}" name="redirect_url" type="url" required value="${esc(origin ? origin + "/" : "")}"> `
      : "";
    return postForm(`${r.base}/outbox/${esc(m.id)}/retry`, r.session.csrf, `${url}<button type="submit" class="secondary">Retry</button>`, { cls: "inline", label: `Retry ${m.template} message` });
  };
  const cells = messages.map((m) => [
    when(m.created_at),
    `<code>${esc(m.template)}</code>`,
    m.status === "failed" ? '<span class="badge bad">failed</span>' : "pending",
    String(m.attempts),
    m.status === "pending" ? when(m.next_attempt_at) : "—",
    esc(m.last_error ?? "—"),
    retry(m),
  ]);
  return {
    html: page(
      r.frame("Outbox", "outbox"),
      `<p><strong>${pending}</strong> pending · <strong>${failed}</strong> failed. Recipients are never shown. A failed message's content is dropped, so a retry queues a new message of the same kind (a fresh link) and removes the failed one.</p>${table(["Queued", "Template", "Status", "Attempts", "Next attempt", "Last error", "Action"], cells, "Outbox messages")}`,
    ),
  };
}

export const projectPages: readonly ["GET" | "POST", string, ConsoleHandler][] = [
  ["GET", "/audit", (r) => auditPage(r)],
  ["GET", "/origins", (r) => originsPage(r)],
  ["GET", "/keys", (r) => keysPage(r)],
  ["GET", "/schema", (r) => schemaPage(r)],
  ["GET", "/outbox", (r) => outboxPage(r)],
];

export const projectActions: readonly ["GET" | "POST", string, ConsoleHandler][] = [
  ["POST", "/origins", async (r, _params, form) => {
    const list = (form?.get("origins") ?? "").split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== "");
    await putRedirectOrigins(r.p, { allowed_redirect_origins: list }, r.client);
    return { redirect: `${r.base}/origins?notice=origins_saved` };
  }],
  ["POST", "/keys/rotate", rotateKeysAction],
  ["POST", "/jwt/rotate", async (r, _params, form) => {
    if (form?.get("confirm") !== "yes") throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "confirm", message: "Tick the confirmation box to rotate the JWT secret.", suggestion: "Nothing was rotated." });
    await rotateJwtSecret(r.p, {}, r.client);
    return { redirect: `${r.base}/keys?notice=jwt_rotated` };
  }],
  ["POST", "/outbox/:mid/retry", async (r, params, form) => {
    const raw = form?.get("redirect_url") ?? null;
    const url = raw === null ? null : await parseSendReset(r.p, { redirect_url: raw });
    await retryFailedMessage(r.p, params.mid, url, r.client);
    return { redirect: `${r.base}/outbox?notice=retried` };
  }],
];
