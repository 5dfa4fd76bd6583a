import { page, type Frame } from "../html.ts";

/** The sign-in form: the admin key is posted once (never in a URL) and exchanged for a session cookie. */
export function signInPage(f: Frame): string {
  return page(
    f,
    `<form method="post" action="${f.base}/sign-in" autocomplete="off">
<div class="field"><label for="key">Admin key <span class="hint">(sk_…, printed once at the first boot or by rotate-keys)</span></label>
<input type="password" id="key" name="key" required autocomplete="off" spellcheck="false" autofocus></div>
<button type="submit">Sign in</button>
</form>
<p class="hint">The key is checked once and exchanged for a console session of 8 hours; the browser never stores it.</p>`,
  );
}
