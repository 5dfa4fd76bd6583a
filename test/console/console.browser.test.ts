/**
 * The admin console in a real browser: Debian's chromium driven by playwright-core against the
 * real server (`latchkey serve`, real HTTP on 127.0.0.1). One server and one browser for the file.
 * Writes the screenshots linked from docs/console.md (desktop and 375 px) into docs/console/.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT, startServe, type Running } from "../cli/run.ts";
import { CHEAP_HASHER } from "../helpers/instance.ts";

// Names that exist only inside the page (page.evaluate callbacks run in the browser).
declare const document: any;
declare const window: any;
declare const localStorage: Record<string, string>;
declare const sessionStorage: Record<string, string>;

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_KEY = "sk_" + "Q".repeat(20) + "w".repeat(23);
const PUBLIC_KEY = "pk_" + "R".repeat(43);
const PASSWORD = "correct horse battery staple";
// The screenshots are always taken; they replace the committed ones in docs/console/ only with
// LATCHKEY_SCREENSHOTS=1 (otherwise every run would leave the work tree changed).
const SHOTS = process.env.LATCHKEY_SCREENSHOTS === "1" ? join(ROOT, "docs/console") : mkdtempSync(join(tmpdir(), "latchkey-console-shots-"));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };

let server: Running;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let dir: string;
let base: string;
const urls: string[] = [];
const bodies: { url: string; text: string }[] = [];
const users: Record<string, { id: string; token: string; refresh: string }> = {};
let newAdminKey = "";

async function api(method: string, path: string, opts: { body?: unknown; token?: string; adminKey?: string } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-public-key": PUBLIC_KEY };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.adminKey) headers["x-admin-key"] = opts.adminKey;
  const r = await fetch(server.url + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function shot(name: string): Promise<void> {
  for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`) });
    if (label === "phone") {
      // Readable at 375 px: nothing wider than the screen (wide tables scroll inside their box).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    }
  }
  await page.setViewportSize(DESKTOP);
}

/** Clicks something that submits a form and waits for the page it leads to. */
async function submit(selector: string, on: Page = page): Promise<void> {
  await Promise.all([on.waitForNavigation(), on.click(selector)]);
}

/** Every form control has a label (or an aria-label): usable with a screen reader and by keyboard. */
async function expectLabelled(): Promise<void> {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
      .filter((el: any) => (el as any).labels?.length === 0 && !el.getAttribute("aria-label"))
      .map((el: any) => el.outerHTML),
  );
  expect(unlabelled).toEqual([]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-console-"));
  const projects = join(dir, "projects");
  mkdirSync(projects);
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(
    join(projects, "demo.yaml"),
    stringify({
      id: "demo",
      name: "Demo app",
      keys: { admin: ADMIN_KEY, public: PUBLIC_KEY },
      allowed_redirect_origins: ["https://myapp.com"],
      tables: {
        users: {
          auth_table: true,
          columns: {
            display_name: "string max_length 80",
            role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
            note: { type: "string", hidden: true, readonly: true },
            age: "int",
          },
        },
      },
      auth: { hasher: CHEAP_HASHER, rate_limits: { signup_per_ip: "off", login_per_ip: "off", login_failures_per_account: "off" } },
      mail: { provider: "console", from: "Demo <no-reply@myapp.com>" },
    }),
  );
  server = await startServe([process.execPath, join(ROOT, "src/main.ts"), "serve", "--config", projects, "--data", join(dir, "data"), "--port", "0"]);
  base = `${server.url}/p/demo/admin`;
  for (const name of ["alice", "bob", "carol", "dave", "erin", "frank"]) {
    const r = await api("POST", "/p/demo/auth/signup", { body: { email: `${name}@example.org`, password: PASSWORD, display_name: name[0].toUpperCase() + name.slice(1) } });
    expect(r.status).toBe(201);
    users[name] = { id: r.body.data.user.id, token: r.body.data.token, refresh: r.body.data.refresh_token };
  }
  // A second session for alice.
  expect((await api("POST", "/p/demo/auth/login", { body: { email: "alice@example.org", password: PASSWORD } })).status).toBe(200);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: DESKTOP });
  page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  page.on("request", (r) => void urls.push(r.url()));
  page.on("response", async (r) => {
    if (r.status() >= 300 && r.status() < 400) return;
    try {
      bodies.push({ url: r.url(), text: await r.text() });
    } catch {
      // a body the browser did not keep (navigated away): nothing to read
    }
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.proc.kill();
  await server?.proc.exited;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("admin console in chromium", () => {
  it("is installed where the tests expect it", () => {
    expect(existsSync(CHROMIUM)).toBe(true);
  });

  it("signs in with a wrong key, then the right one (by keyboard); the cookie is HttpOnly, SameSite=Strict, 8 h", async () => {
    await page.goto(`${base}/`);
    expect(page.url()).toBe(`${base}/sign-in`);
    await expectLabelled();
    await shot("sign-in");
    await page.fill("#key", "sk_" + "z".repeat(43));
    await submit("button[type=submit]");
    await expect(page.locator("[role=alert]").textContent()).resolves.toContain("That admin key is not valid");
    expect(await context.cookies()).toEqual([]);

    // Keyboard only: the key field has the focus; type and press Enter.
    await page.goto(`${base}/sign-in`);
    for (let i = 0; i < 5 && (await page.evaluate(() => document.activeElement?.id)) !== "key"; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("key");
    await page.keyboard.type(ADMIN_KEY);
    const usersResponse = page.waitForResponse((r) => r.url() === `${base}/users`);
    await Promise.all([page.waitForURL(`${base}/users`), page.keyboard.press("Enter")]);
    const resp = await usersResponse;
    expect(page.url()).toBe(`${base}/users`);
    await expect(page.locator("h1").textContent()).resolves.toBe("Users");
    const csp = resp.headers()["content-security-policy"];
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(resp.headers()["x-frame-options"]).toBe("DENY");
    expect(resp.headers()["referrer-policy"]).toBe("no-referrer");

    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    const c = cookies[0];
    expect(c.name).toBe("lk_console");
    expect(c.httpOnly).toBe(true);
    expect(c.sameSite).toBe("Strict");
    expect(c.secure).toBe(false); // the public URL is http here; https adds Secure (console.test.ts)
    expect(c.path).toBe("/p/demo/admin");
    expect(Math.abs(c.expires - (Date.now() / 1000 + 8 * 3600))).toBeLessThan(120);
    // The page cannot read the cookie, and the CSP really blocks inline script.
    expect(await page.evaluate(() => document.cookie)).toBe("");
    const inlineRan = await page.evaluate(async () => {
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 50));
      return (window as unknown as { __inline?: number }).__inline === 1;
    });
    expect(inlineRan).toBe(false);
  }, 30_000);

  it("searches for a user and opens their page", async () => {
    await expectLabelled();
    await expect(page.locator("tbody tr").count()).resolves.toBe(6);
    await shot("users");
    await page.fill("#q", "bo");
    await submit("button:has-text('Search')");
    await expect(page.locator("tbody tr").count()).resolves.toBe(1);
    await submit("a:has-text('bob@example.org')");
    await expect(page.locator("h1").textContent()).resolves.toBe("User bob@example.org");
    expect(page.url()).toBe(`${base}/users/${users.bob.id}`);
    // Search by id finds the same user.
    await page.goto(`${base}/users?q=${users.carol.id}`);
    await expect(page.locator("tbody tr").count()).resolves.toBe(1);
    await expect(page.locator("tbody").textContent()).resolves.toContain("carol@example.org");
  }, 30_000);

  it("bans a user: their access token is refused by /auth/me at once", async () => {
    expect((await api("GET", "/p/demo/auth/me", { token: users.bob.token })).status).toBe(200);
    await page.goto(`${base}/users/${users.bob.id}`);
    await page.fill("#ban-reason", "spam");
    await submit("button:has-text('Ban user')");
    await expect(page.locator("[role=status]").textContent()).resolves.toContain("User banned");
    const me = await api("GET", "/p/demo/auth/me", { token: users.bob.token });
    expect(me.status).toBe(401);
    const refresh = await api("POST", "/p/demo/auth/refresh", { body: { refresh_token: users.bob.refresh } });
    expect(refresh.status).toBe(401);
    await expect(page.locator("dl.props").textContent()).resolves.toContain("spam");
  }, 30_000);

  it("edits readonly and hidden columns, with the API's validation", async () => {
    await page.goto(`${base}/users/${users.alice.id}`);
    await expectLabelled();
    await shot("user");
    await page.fill("#col-age", "not a number");
    await submit("button:has-text('Save changes')");
    await expect(page.locator("[role=alert]").textContent()).resolves.toContain("age");
    await page.goto(`${base}/users/${users.alice.id}`);
    await page.selectOption("#col-role", "admin");
    await page.fill("#col-note", "vip customer");
    await submit("button:has-text('Save changes')");
    await expect(page.locator("[role=status]").textContent()).resolves.toBe("Saved.");
    const u = await api("GET", `/p/demo/v1/users/${users.alice.id}`, { adminKey: ADMIN_KEY });
    expect(u.body.data.user).toMatchObject({ role: "admin", note: "vip customer" });
    // End users still cannot write the readonly column themselves.
    const self = await api("PATCH", "/p/demo/auth/me", { token: users.alice.token, body: { role: "user" } });
    expect(self.status).toBe(400);
  }, 30_000);

  it("revokes one session of a user", async () => {
    await page.goto(`${base}/users/${users.alice.id}`);
    const rows = page.locator("h2:has-text('Live sessions') + .table-wrap tbody tr");
    await expect(rows.count()).resolves.toBe(2);
    await Promise.all([page.waitForNavigation(), rows.first().locator("button:has-text('Revoke')").click()]);
    await expect(page.locator("[role=status]").textContent()).resolves.toBe("Session revoked.");
    await expect(page.locator("h2:has-text('Live sessions') + .table-wrap tbody tr").count()).resolves.toBe(1);
    const s = await api("GET", `/p/demo/v1/users/${users.alice.id}/sessions`, { adminKey: ADMIN_KEY });
    expect(s.body.data.sessions).toHaveLength(1);
  }, 30_000);

  it("deletes a user after the email is typed", async () => {
    await page.goto(`${base}/users/${users.carol.id}`);
    await page.fill("#confirm-email", "carol");
    await submit("button:has-text('Delete user')");
    await expect(page.locator("[role=alert]").textContent()).resolves.toContain("Type the user's email");
    expect((await api("GET", `/p/demo/v1/users/${users.carol.id}`, { adminKey: ADMIN_KEY })).status).toBe(200);
    await page.goto(`${base}/users/${users.carol.id}`);
    await page.fill("#confirm-email", "carol@example.org");
    await submit("button:has-text('Delete user')");
    expect(page.url()).toBe(`${base}/users?notice=deleted`);
    await expect(page.locator("[role=status]").textContent()).resolves.toBe("User deleted.");
    expect((await api("GET", `/p/demo/v1/users/${users.carol.id}`, { adminKey: ADMIN_KEY })).status).toBe(404);
  }, 30_000);

  it("shows the project pages (audit, origins, keys, schema, outbox), labelled and readable at 375 px", async () => {
    await page.goto(`${base}/origins`);
    await page.fill("#origins", "https://myapp.com\nhttps://staging.myapp.com");
    await submit("button:has-text('Save origins')");
    await expect(page.locator("tbody").textContent()).resolves.toContain("https://staging.myapp.comnoyesadded by the API");
    expect((await api("GET", "/p/demo/v1/redirect-origins", { adminKey: ADMIN_KEY })).body.data.allowed_redirect_origins).toEqual(["https://myapp.com", "https://staging.myapp.com"]);
    for (const [path, title] of [["audit", "Audit log"], ["origins", "Redirect origins"], ["keys", "Keys and JWT secret"], ["schema", "Schema"], ["outbox", "Outbox"]]) {
      await page.goto(`${base}/${path}`);
      await expect(page.locator("h1").textContent()).resolves.toBe(title);
      await expectLabelled();
      await shot(path);
    }
    await page.goto(`${base}/audit?type=admin.user_banned`);
    await expect(page.locator("tbody tr").count()).resolves.toBe(1);
    await expect(page.locator("tbody").textContent()).resolves.toContain(users.bob.id.slice(0, 8));
  }, 60_000);

  it("refuses a cross-site form POST without the CSRF token", async () => {
    // The attacker's page is on another site (localhost vs 127.0.0.1) and posts a ban form.
    const target = `${base}/users/${users.alice.id}/ban`;
    const evil = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(`<!doctype html><form method="post" action="${target}"><input name="reason" value="csrf"><button id="go">go</button></form>`, { headers: { "content-type": "text/html" } }),
    });
    try {
      const attacker = await context.newPage();
      await attacker.goto(`http://localhost:${evil.port}/`);
      const [resp] = await Promise.all([attacker.waitForResponse(target), attacker.click("#go")]);
      expect([401, 403]).toContain(resp.status());
      await attacker.close();
    } finally {
      evil.stop(true);
    }
    const u = await api("GET", `/p/demo/v1/users/${users.alice.id}`, { adminKey: ADMIN_KEY });
    expect(u.body.data.user.banned).toBe(false);
    // The console session itself is still fine.
    await page.goto(`${base}/users`);
    await expect(page.locator("h1").textContent()).resolves.toBe("Users");
  }, 30_000);

  it("rotates keys: the new key is shown once, the console session ends and the old key fails", async () => {
    const [before] = await context.cookies();
    await page.goto(`${base}/keys`);
    await page.selectOption("#which", "admin");
    await page.check("#confirm-keys");
    await submit("button:has-text('Rotate keys')");
    const input = page.locator("#new-admin-key");
    newAdminKey = await input.inputValue();
    expect(newAdminKey).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(newAdminKey).not.toBe(ADMIN_KEY);
    await page.click("button[data-copy]");
    await expect(page.locator("button[data-copy]").textContent()).resolves.toBe("Copied");

    // The cookie is cleared, and the old session token is dead on the server too.
    expect(await context.cookies()).toEqual([]);
    await page.goto(`${base}/users`);
    expect(page.url()).toBe(`${base}/sign-in`);
    await context.addCookies([before]);
    await page.goto(`${base}/users`);
    expect(page.url()).toBe(`${base}/sign-in?notice=ended`);
    await expect(page.locator("[role=status]").textContent()).resolves.toContain("admin key was rotated");
    await page.fill("#key", ADMIN_KEY);
    await submit("button[type=submit]");
    await expect(page.locator("[role=alert]").textContent()).resolves.toContain("not valid");
    expect((await api("GET", "/p/demo/v1/users", { adminKey: ADMIN_KEY })).status).toBe(401);
    expect((await api("GET", "/p/demo/v1/users", { adminKey: newAdminKey })).status).toBe(200);
    // The new key signs in.
    await page.fill("#key", newAdminKey);
    await submit("button[type=submit]");
    expect(page.url()).toBe(`${base}/users`);
  }, 30_000);

  it("leaves no admin key in any URL, page, cookie, browser storage or server log line", async () => {
    const storage = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
    const cookies = JSON.stringify(await context.cookies());
    const logs = server.stdout() + server.stderr();
    expect(urls.length).toBeGreaterThan(20);
    expect(bodies.length).toBeGreaterThan(20);
    for (const key of [ADMIN_KEY, newAdminKey]) {
      expect(urls.filter((u) => u.includes(key))).toEqual([]);
      expect(storage.includes(key)).toBe(false);
      expect(cookies.includes(key)).toBe(false);
      expect(logs.includes(key)).toBe(false);
    }
    expect(bodies.filter((b) => b.text.includes(ADMIN_KEY)).map((b) => b.url)).toEqual([]);
    // The new key was in exactly one response: the rotation page that shows it once.
    expect(bodies.filter((b) => b.text.includes(newAdminKey)).map((b) => b.url)).toEqual([`${base}/keys/rotate`]);
    expect(logs).toContain("admin.console_signed_in");
  }, 30_000);
});
