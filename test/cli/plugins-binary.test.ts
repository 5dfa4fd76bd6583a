/**
 * Plugins without a rebuild, through the compiled binary (built once, same flags as `npm run build`)
 * run from an empty directory: plugin files are imported from disk by the executable itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli, startServe, type Running } from "./run.ts";
import { copyExample, GREEDY_HASHER_PLUGIN, installRelayFormat, RELAY_MAIL_PLUGIN, SWALLOWING_MAIL_PLUGIN, writePlugin } from "../plugins/fixtures.ts";

let dir = "";
let run = "";
let bin = "";
let running: Running | null = null;
let mailServer: ReturnType<typeof Bun.serve> | null = null;
const mails: { headers: Record<string, string>; body: any }[] = [];
const PASSWORD = "correct horse battery";

function projectYaml(hasher: string, mailUrl: string): string {
  return `id: demo
name: Demo App
tables:
  users:
    auth_table: true
    verify_email: true
auth:
  hasher: ${hasher}
mail:
  provider: relay
  from: "Demo <no-reply@myapp.com>"
  options: { url: "${mailUrl}", tag: from-project }
`;
}

function newPluginDir(name: string): string {
  const d = join(run, name);
  mkdirSync(d);
  chmodSync(d, 0o755);
  return d;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-plugins-bin-"));
  const build = await runCli(
    [process.execPath, "build", join(ROOT, "src/main.ts"), join(ROOT, "src/storage/sqlite/checkpoint-worker.ts"), "--compile", "--production", "--bytecode",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--outfile", join(dir, "build", "latchkey")],
    { cwd: ROOT },
  );
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  run = join(dir, "run");
  mkdirSync(run);
  bin = join(run, "latchkey");
  copyFileSync(join(dir, "build", "latchkey"), bin);
  rmSync(join(dir, "build"), { recursive: true });

  const plugins = newPluginDir("plugins");
  copyExample(plugins, "hasher-pbkdf2.ts");
  copyExample(plugins, "latchkey-plugin.d.ts");
  writePlugin(plugins, "relay.ts", RELAY_MAIL_PLUGIN);
  installRelayFormat(plugins);

  mailServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      mails.push({ headers: Object.fromEntries(req.headers), body: await req.json() });
      return new Response("ok");
    },
  });
}, 120_000);

afterAll(async () => {
  running?.proc.kill("SIGKILL");
  await mailServer?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

async function stop(r: Running): Promise<void> {
  r.proc.kill("SIGTERM");
  expect(await r.proc.exited).toBe(0);
  running = null;
}

function storedHash(): string {
  const db = new Database(join(run, "data", "demo.db"), { readonly: true });
  try {
    return (db.query("SELECT password_hash FROM users").get() as { password_hash: string }).password_hash;
  } finally {
    db.close();
  }
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe("plugin files loaded by the compiled binary", () => {
  it("a pbkdf2 hasher file and a mail file (importing a package beside it): signup, mail, login, then rehash to the configured hasher", async () => {
    const mailUrl = `http://127.0.0.1:${mailServer!.port}/send`;
    writeFileSync(join(run, "project.yaml"), projectYaml("{ algorithm: pbkdf2, options: { iterations: 1000 } }", mailUrl));

    running = await startServe([bin, "serve", "--plugins", "plugins", "--config", "project.yaml", "--data", "data", "--port", "0"], { cwd: run });
    expect(running.stdout()).toContain('"msg":"plugin loaded"');
    const signup = await post(`${running.url}/p/demo/auth/signup`, { email: "alice@example.org", password: PASSWORD });
    expect(signup.status).toBe(201);
    const deadline = Date.now() + 10_000;
    while (mails.length === 0 && Date.now() < deadline) await Bun.sleep(20);
    expect(mails).toHaveLength(1);
    expect(mails[0].body).toMatchObject({ formatted_by: "relay-format", to: "alice@example.org", subject: "Confirm your email for Demo App" });
    expect(mails[0].body.text).toMatch(/\/p\/demo\/auth\/verify\?token=[A-Za-z0-9_-]{43}/);
    expect(mails[0].headers["x-tag"]).toBe("from-project");
    expect(mails[0].headers["x-digest"]).toBe(new Bun.CryptoHasher("sha256").update(mails[0].body.text).digest("hex"));
    expect((await post(`${running.url}/p/demo/auth/login`, { email: "alice@example.org", password: PASSWORD })).status).toBe(200);
    await stop(running);
    expect(storedHash()).toMatch(/^\$pbkdf2-sha256\$i=1000\$/);

    // The operator moves to argon2id; the plugin directory now comes from LATCHKEY_PLUGINS.
    writeFileSync(join(run, "project.yaml"), projectYaml("{ algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }", mailUrl));
    running = await startServe([bin, "serve", "--config", "project.yaml", "--data", "data", "--port", "0"], { cwd: run, env: { LATCHKEY_PLUGINS: "plugins" } });
    expect((await post(`${running.url}/p/demo/auth/login`, { email: "alice@example.org", password: "wrong password!" })).status).toBe(401);
    expect(storedHash()).toMatch(/^\$pbkdf2-sha256\$/);
    const login = await post(`${running.url}/p/demo/auth/login`, { email: "alice@example.org", password: PASSWORD });
    expect(login.status).toBe(200);
    expect(storedHash()).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect((await post(`${running.url}/p/demo/auth/login`, { email: "alice@example.org", password: PASSWORD })).status).toBe(200);
    await stop(running);
  }, 60_000);

  it("check --plugins validates a plugin's options with the plugin's own schema", async () => {
    writeFileSync(join(run, "bad.yaml"), projectYaml("{ algorithm: pbkdf2, options: { iterations: 10 } }", "http://127.0.0.1:9/"));
    const bad = await runCli([bin, "check", "--plugins", "plugins", "--config", "bad.yaml"], { cwd: run });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("auth.hasher.options.iterations");
    const withoutPlugins = await runCli([bin, "check", "--config", "bad.yaml"], { cwd: run });
    expect(withoutPlugins.code).toBe(2);
    expect(withoutPlugins.stderr).toContain('unknown hasher algorithm "pbkdf2"');
    const good = await runCli([bin, "check", "--config", "project.yaml"], { cwd: run, env: { LATCHKEY_PLUGINS: "plugins" } });
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`plugin hasher "pbkdf2" loaded from ${join(run, "plugins", "hasher-pbkdf2.ts")}`);
  });
});

describe("refusals at startup (exit 2, naming the file)", () => {
  const HASHER = (id: string) => `export default ({ defineHasher, v }) => defineHasher({ id: "${id}", optionsSchema: v.optional(v.object({}), {}),
  create: () => ({ id: "${id}", hash: async () => "$${id}$x", verify: async () => false, canVerify: (h) => h.startsWith("$${id}$") }) });\n`;
  const cases: { name: string; prepare: (d: string) => string; message: string }[] = [
    { name: "an id clashing with a built-in", prepare: (d) => writePlugin(d, "mine.ts", HASHER("scrypt")), message: 'hasher id "scrypt" clashes with the built-in hasher' },
    { name: "an id clashing with another file", prepare: (d) => (writePlugin(d, "a.ts", HASHER("twin")), writePlugin(d, "b.ts", HASHER("twin"))), message: 'hasher id "twin" is already defined by a.ts' },
    { name: "a file that throws while loading", prepare: (d) => writePlugin(d, "throws.js", "throw new Error('kaboom');\n"), message: "the file threw while loading: kaboom" },
    { name: "a result that is not a valid plugin", prepare: (d) => writePlugin(d, "plain.ts", "export default () => ({ id: 'plain', hash: async () => '' });\n"), message: "the result is not a plugin" },
    { name: "a file writable by group", prepare: (d) => writePlugin(d, "loose.ts", HASHER("loose"), 0o664), message: "the plugin file is writable by group or others" },
    { name: "a file writable by others", prepare: (d) => writePlugin(d, "loose2.ts", HASHER("loose2"), 0o646), message: "the plugin file is writable by group or others" },
    { name: "a directory writable by others", prepare: (d) => (writePlugin(d, "ok.ts", HASHER("fine")), chmodSync(d, 0o757), d), message: "the plugin directory is writable by group or others" },
  ];
  let n = 0;
  for (const c of cases) {
    it(`check refuses ${c.name}`, async () => {
      const d = newPluginDir(`refuse-${n++}`);
      const file = c.prepare(d);
      const r = await runCli([bin, "check", "--plugins", d, "--config", "project.yaml"], { cwd: run });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`plugin error: ${file}: ${c.message}`);
      expect(r.stdout).not.toContain("project demo");
    });
  }

  it("serve refuses before the port opens (flag and LATCHKEY_PLUGINS)", async () => {
    const d = newPluginDir("refuse-serve");
    const file = writePlugin(d, "mine.ts", HASHER("bcrypt"));
    for (const [args, env] of [[["--plugins", d], {}], [[], { LATCHKEY_PLUGINS: d }]] as const) {
      const r = await runCli([bin, "serve", ...args, "--config", "project.yaml", "--data", "data-refused", "--port", "0"], { cwd: run, env: { ...env } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`plugin error: ${file}: hasher id "bcrypt" clashes`);
      expect(r.stdout + r.stderr).not.toContain("listening on");
    }
    expect(existsSync(join(run, "data-refused"))).toBe(false);
  });
});

describe("latchkey plugin test and plugin init through the binary", () => {
  it("passes on every built-in", async () => {
    for (const id of ["argon2id", "bcrypt", "scrypt", "console", "file", "smtp", "http"]) {
      const r = await runCli([bin, "plugin", "test", id], { cwd: run });
      expect(`${id}: ${r.code} ${r.stderr}`).toBe(`${id}: 0 `);
      expect(r.stdout).toMatch(/\n\d+ passed, 0 failed, 0 skipped\n$/);
    }
  }, 60_000);

  it("passes on the examples: pbkdf2 and postmark against a local fake Postmark endpoint", async () => {
    const d = newPluginDir("examples");
    copyExample(d, "hasher-pbkdf2.ts");
    copyExample(d, "mail-postmark.ts");
    const h = await runCli([bin, "plugin", "test", "examples/hasher-pbkdf2.ts", "--options", '{"iterations":1000}', "--other-options", '{"iterations":2000}'], { cwd: run });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("15 passed, 0 failed, 0 skipped");
    const p = await runCli([bin, "plugin", "test", "examples/mail-postmark.ts", "--options", '{"server_token":"t","api_url":"{{receiver_url}}"}'], { cwd: run });
    expect(p.code).toBe(0);
    expect(p.stdout).toContain("8 passed, 0 failed, 0 skipped");
  });

  it("fails with a readable table on a wrong canVerify and on a send that swallows errors", async () => {
    const d = newPluginDir("broken");
    writePlugin(d, "greedy.ts", GREEDY_HASHER_PLUGIN);
    writePlugin(d, "swallow.ts", SWALLOWING_MAIL_PLUGIN);
    const g = await runCli([bin, "plugin", "test", "broken/greedy.ts", "--other-options", "{}"], { cwd: run });
    expect(g.code).toBe(1);
    expect(g.stdout).toMatch(/^ {2}FAIL {4}does not claim a bcrypt hash and answers false for it without throwing/m);
    expect(g.stdout).toContain("why: canVerify(bcrypt hash): expected false, got true");
    const s = await runCli([bin, "plugin", "test", "broken/swallow.ts", "--options", '{"url":"{{receiver_url}}"}'], { cwd: run });
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(/^ {2}PASS {4}delivers a text message with its recipient, subject and body/m);
    expect(s.stdout).toMatch(/^ {2}FAIL {4}rejects send\(\) when it cannot deliver/m);
    expect(s.stdout).toMatch(/^ {2}FAIL {4}rejects send\(\) when the service answers with an error/m);
    expect(s.stdout).toMatch(/\n\d+ passed, 2 failed, 0 skipped\n$/);
  });

  it("plugin init writes a working template of each kind (0644) with its type declarations", async () => {
    const d = newPluginDir("fresh");
    const h = await runCli([bin, "plugin", "init", "--kind", "hasher", "fresh/my-hasher.ts"], { cwd: run });
    expect(h.code).toBe(0);
    expect(h.stdout).toBe("wrote fresh/my-hasher.ts\nwrote fresh/latchkey-plugin.d.ts\n");
    const m = await runCli([bin, "plugin", "init", "--kind", "mail", "fresh/my-mail.ts"], { cwd: run });
    expect(m.stdout).toBe("wrote fresh/my-mail.ts\n");
    expect(readFileSync(join(d, "my-hasher.ts"), "utf8")).toBe(readFileSync(join(ROOT, "examples/plugins/hasher-pbkdf2.ts"), "utf8"));
    expect(readFileSync(join(d, "latchkey-plugin.d.ts"), "utf8")).toBe(readFileSync(join(ROOT, "examples/plugins/latchkey-plugin.d.ts"), "utf8"));
    expect(statSync(join(d, "my-mail.ts")).mode & 0o777).toBe(0o644);
    const again = await runCli([bin, "plugin", "init", "--kind", "mail", "fresh/my-mail.ts"], { cwd: run });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
    const t = await runCli([bin, "plugin", "test", "fresh/my-mail.ts", "--options", '{"url":"{{receiver_url}}","token":"t"}'], { cwd: run });
    expect(t.code).toBe(0);
    // The directory written by init loads as a plugin directory (the .d.ts is not a plugin).
    writeFileSync(join(run, "fresh.yaml"), `id: fresh
tables: { users: { auth_table: true } }
auth: { hasher: { algorithm: pbkdf2 } }
mail: { provider: json-api, from: "a@example.com", options: { url: "https://mail.example.com/send", token: "t" } }
`);
    const c = await runCli([bin, "check", "--plugins", "fresh", "--config", "fresh.yaml"], { cwd: run });
    expect(c.code).toBe(0);
    expect(c.stdout).toContain(`plugin hasher "pbkdf2" loaded from ${join(d, "my-hasher.ts")}`);
    expect(c.stdout).toContain(`plugin mail provider "json-api" loaded from ${join(d, "my-mail.ts")}`);
    expect(c.stdout).not.toContain("latchkey-plugin.d.ts");
  });
});
