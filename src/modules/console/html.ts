/** HTML building blocks of the admin console: escaping, the page frame, the security headers. */
import { escapeHtml } from "../../mail/templates.ts";

export const esc = (v: unknown): string => escapeHtml(v === null || v === undefined ? "" : String(v));

/** Every console response (pages, redirects, assets, errors) carries these. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

export type Section = "users" | "audit" | "origins" | "keys" | "schema" | "outbox" | null;

const NAV: readonly [Exclude<Section, null>, string][] = [
  ["users", "Users"],
  ["audit", "Audit log"],
  ["origins", "Redirect origins"],
  ["keys", "Keys"],
  ["schema", "Schema"],
  ["outbox", "Outbox"],
];

export interface Frame {
  readonly base: string;
  readonly projectName: string;
  readonly title: string;
  readonly section: Section;
  /** Set when signed in: the nav and the sign-out form (which needs it) are shown. */
  readonly csrf?: string;
  readonly notice?: { kind: "ok" | "error"; text: string } | null;
}

export function page(f: Frame, body: string): string {
  const nav = f.csrf
    ? `<nav aria-label="Console"><ul>${NAV.map(([s, label]) => `<li><a href="${f.base}/${s}"${f.section === s ? ' aria-current="page"' : ""}>${label}</a></li>`).join("")}</ul></nav>
<form method="post" action="${f.base}/sign-out" class="inline">${csrfField(f.csrf)}<button type="submit" class="secondary">Sign out</button></form>`
    : "";
  const notice = f.notice ? `<div class="notice ${f.notice.kind}" role="${f.notice.kind === "error" ? "alert" : "status"}">${esc(f.notice.text)}</div>` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(f.title)} · ${esc(f.projectName)} · Latchkey console</title>
<link rel="stylesheet" href="${f.base}/assets/console.css">
<script src="${f.base}/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">${esc(f.projectName)} <span class="hint">Latchkey console</span></span>${nav}</header>
<main id="main">
<h1>${esc(f.title)}</h1>
${notice}${body}
</main>
</body>
</html>
`;
}

export function csrfField(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${esc(csrf)}">`;
}

/** A POST form with the CSRF field; `confirm` adds a browser confirm() (the server checks anyway). */
export function postForm(action: string, csrf: string, inner: string, opts: { confirm?: string; cls?: string; label?: string } = {}): string {
  return `<form method="post" action="${esc(action)}"${opts.cls ? ` class="${opts.cls}"` : ""}${opts.confirm ? ` data-confirm="${esc(opts.confirm)}"` : ""}${opts.label ? ` aria-label="${esc(opts.label)}"` : ""}>${csrfField(csrf)}${inner}</form>`;
}

export function table(head: readonly string[], rows: readonly string[][], caption: string): string {
  if (rows.length === 0) return `<p>Nothing to show.</p>`;
  return `<div class="table-wrap"><table><caption class="skip">${esc(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table></div>`;
}

export function when(iso: unknown): string {
  if (iso === null || iso === undefined || iso === "") return "—";
  const s = typeof iso === "number" ? new Date(iso).toISOString() : String(iso);
  return `<time datetime="${esc(s)}">${esc(s.replace("T", " ").replace(/\.\d+Z$/, "Z"))}</time>`;
}
