/** The small HTML page GET /auth/verify answers when no verify_redirect_url is configured. */
import { escapeHtml } from "../../mail/templates.ts";

export interface VerifyPage {
  readonly title: string;
  readonly message: string;
}

export const VERIFIED_PAGE: VerifyPage = {
  title: "Email verified",
  message: "Your email address is confirmed. You can close this page and return to the app.",
};
export const INVALID_LINK_PAGE: VerifyPage = {
  title: "This link does not work",
  message: "The link is invalid, has expired or was already used. Ask the app for a new verification email.",
};
export const RATE_LIMITED_PAGE: VerifyPage = {
  title: "Too many attempts",
  message: "Too many verification attempts came from your network. Wait a few minutes and open the link again.",
};

/** Headers of the page: no caching, no referrer (the URL held a token), nothing loaded, no framing. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
};

export function renderVerifyPage(projectName: string, page: VerifyPage): string {
  const name = escapeHtml(projectName);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} - ${name}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.5}</style>
</head>
<body>
<main>
<h1>${escapeHtml(page.title)}</h1>
<p>${escapeHtml(page.message)}</p>
<p><small>${name}</small></p>
</main>
</body>
</html>
`;
}
