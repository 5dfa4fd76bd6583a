/** `latchkey plugin test` in process: built-ins and examples pass; broken plugins fail with a readable table. */
import { afterAll, describe, expect, it } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { runPluginTest } from "../../src/plugin-host/test-plugin.ts";
import { copyExample, GREEDY_HASHER_PLUGIN, pluginDir, SWALLOWING_MAIL_PLUGIN, writePlugin } from "./fixtures.ts";

const dir = pluginDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function pluginTest(target: string, options: string | null = null, otherOptions: string | null = null) {
  let out = "";
  let err = "";
  const code = await runPluginTest({
    target,
    optionsJson: options,
    otherOptionsJson: otherOptions,
    builtins: BUILTIN_PLUGINS,
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { code, out, err };
}

/** The table rows as [status, check name]. */
function rows(out: string): [string, string][] {
  return [...out.matchAll(/^ {2}(PASS|FAIL|SKIP) {2,}(.+?)(?: {2,}\d+ ms)?$/gm)].map((m) => [m[1], m[2].trim()]);
}

describe("latchkey plugin test", () => {
  for (const id of ["argon2id", "bcrypt", "scrypt", "console", "file", "smtp", "http"]) {
    it(`passes on the built-in ${id}`, async () => {
      const r = await pluginTest(id);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain(`"${id}" (built-in ${id})`);
      expect(rows(r.out).length).toBeGreaterThanOrEqual(6);
      expect(rows(r.out).filter(([s]) => s !== "PASS")).toEqual([]);
      expect(r.out).toMatch(/\d+ passed, 0 failed, 0 skipped/);
    });
  }

  it("passes on the example pbkdf2 hasher and the example mail plugins (against a local receiver)", async () => {
    copyExample(dir, "hasher-pbkdf2.ts");
    copyExample(dir, "mail-postmark.ts");
    copyExample(dir, "mail-json-api.ts");
    const h = await pluginTest(join(dir, "hasher-pbkdf2.ts"), '{"iterations":1000}', '{"iterations":2000}');
    expect(h.code).toBe(0);
    expect(rows(h.out)).toContainEqual(["PASS", "needs a rehash toward stronger parameters only, never toward weaker ones"]);
    const p = await pluginTest(join(dir, "mail-postmark.ts"), '{"server_token":"test-token","api_url":"{{receiver_url}}"}');
    expect(p.code).toBe(0);
    expect(rows(p.out)).toContainEqual(["PASS", "passes its connectivity check when it can deliver"]);
    expect(rows(p.out)).toContainEqual(["PASS", "rejects send() when the service answers with an error"]);
    const j = await pluginTest(join(dir, "mail-json-api.ts"), '{"url":"{{receiver_url}}","token":"t"}');
    expect(j.code).toBe(0);
  });

  it("fails a hasher whose canVerify claims every hash, naming the failing checks", async () => {
    const file = writePlugin(dir, "greedy.ts", GREEDY_HASHER_PLUGIN);
    const r = await pluginTest(file, "{}", "{}");
    expect(r.code).toBe(1);
    const failed = rows(r.out).filter(([s]) => s === "FAIL").map(([, name]) => name);
    expect(failed).toContain("does not claim a bcrypt hash and answers false for it without throwing");
    expect(failed).toContain("does not claim a argon2id hash and answers false for it without throwing");
    expect(r.out).toContain("why: canVerify(bcrypt hash): expected false, got true");
    expect(r.out).toMatch(/\d+ passed, [1-9]\d* failed/);
  });

  it("fails a mail plugin whose send swallows errors", async () => {
    const file = writePlugin(dir, "swallow.ts", SWALLOWING_MAIL_PLUGIN);
    const r = await pluginTest(file, '{"url":"{{receiver_url}}"}');
    expect(r.code).toBe(1);
    const table = rows(r.out);
    expect(table).toContainEqual(["PASS", "delivers a text message with its recipient, subject and body"]);
    expect(table).toContainEqual(["FAIL", "rejects send() when it cannot deliver"]);
    expect(table).toContainEqual(["FAIL", "rejects send() when the service answers with an error"]);
    expect(r.out).toContain("why: send() to a service that answers HTTP 500: expected a rejection, but it resolved");
  });

  it("counts skipped checks as not passed (exit 1) and says what to give", async () => {
    const r = await pluginTest(join(dir, "hasher-pbkdf2.ts"), '{"iterations":1000}');
    expect(r.code).toBe(1);
    expect(rows(r.out)).toContainEqual(["SKIP", "needs a rehash toward stronger parameters only, never toward weaker ones"]);
    expect(r.out).toContain("--other-options");
    const m = await pluginTest(join(dir, "mail-json-api.ts"), '{"url":"https://mail.example.invalid/","token":"t"}');
    expect(m.code).toBe(1);
    expect(rows(m.out).filter(([s]) => s === "SKIP")).toHaveLength(4);
    expect(m.out).toContain("{{receiver_url}}");
  });

  it("exits 2 for a missing file, an unknown id, bad JSON, options the schema refuses, and an id clash", async () => {
    expect((await pluginTest(join(dir, "nope.ts"))).code).toBe(2);
    const unknown = await pluginTest("sendgrid");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("not a built-in plugin");
    const badJson = await pluginTest(join(dir, "hasher-pbkdf2.ts"), "{iterations: 1}");
    expect([badJson.code, badJson.err]).toEqual([2, "latchkey: --options is not valid JSON\n"]);
    const badOptions = await pluginTest(join(dir, "hasher-pbkdf2.ts"), '{"iterations":5}');
    expect(badOptions.code).toBe(2);
    expect(badOptions.err).toContain("iterations");
    const clash = writePlugin(dir, "scrypt-again.ts", GREEDY_HASHER_PLUGIN.replaceAll('"greedy"', '"scrypt"'));
    const c = await pluginTest(clash);
    expect(c.code).toBe(2);
    expect(c.err).toContain('id "scrypt" clashes with a built-in plugin');
  });
});
