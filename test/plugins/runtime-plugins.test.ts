/** Plugin files inside a running instance: what create() returns is checked, and hashers without defaults. */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { loadPluginDirs } from "../../src/plugin-host/load-plugin-files.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { demoProject, PASSWORD } from "../mail/fixtures.ts";
import { pluginDir, writePlugin } from "./fixtures.ts";

const dir = pluginDir();
writePlugin(dir, "needy.ts", `export default ({ defineHasher, v }) => defineHasher({
  id: "needy", optionsSchema: v.strictObject({ pepper: v.string() }),
  create: ({ pepper }) => ({ id: "needy", hash: async (pw) => "$needy$" + pepper + pw, verify: async (pw, h) => h === "$needy$" + pepper + pw,
    canVerify: (h) => h.startsWith("$needy$"), needsRehash: () => false }) });\n`);
writePlugin(dir, "hollow.ts", `export default ({ defineMailProvider, v }) => defineMailProvider({
  id: "hollow", optionsSchema: v.optional(v.object({}), {}), create: () => ({ id: "hollow" }) });\n`);

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("plugin files in a running project", () => {
  it("a hasher whose options have no defaults is left out of the installed hashers instead of breaking every project", async () => {
    const { registry, problems } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    expect(problems).toEqual([]);
    inst = await createTestInstance([demoProject()], { plugins: registry });
    expect(inst.booted.failures).toEqual([]);
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
  });

  it("the same hasher works as the configured one, with its options", async () => {
    const { registry } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    inst = await createTestInstance([demoProject({ auth: { hasher: { algorithm: "needy", options: { pepper: "p-" } } } })], { plugins: registry });
    expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email: "bob@example.org", password: PASSWORD } })).status).toBe(201);
    const row = inst.booted.projects.get("demo")!.db.query("SELECT password_hash FROM users").get() as { password_hash: string };
    expect(row.password_hash).toBe(`$needy$p-${PASSWORD}`);
    expect((await inst.req("POST", "/p/demo/auth/login", { body: { email: "bob@example.org", password: PASSWORD } })).status).toBe(200);
  });

  it("a mail plugin whose create() returns no send makes that project fail to load, with a message naming the plugin", async () => {
    const { registry } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    inst = await createTestInstance([demoProject({ mail: { provider: "hollow", from: "Demo <no-reply@myapp.com>" } })], { plugins: registry });
    expect(inst.booted.failures.map((f) => f.message)).toEqual([`mail plugin "hollow" (${join(dir, "hollow.ts")}): create() must return { id: "hollow", send, verify?, close? }`]);
    expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email: "c@example.org", password: PASSWORD } })).status).toBe(503);
  });
});
