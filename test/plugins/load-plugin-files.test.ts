import { afterAll, describe, expect, it } from "bun:test";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { loadProjects, formatConfigIssue } from "../../src/config/load.ts";
import { loadPluginDirs } from "../../src/plugin-host/load-plugin-files.ts";
import { copyExample, installRelayFormat, pluginDir, RELAY_MAIL_PLUGIN, writePlugin } from "./fixtures.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function newDir(): string {
  const d = pluginDir();
  dirs.push(d);
  return d;
}

const HASHER = (id: string) => `export default ({ defineHasher, v }) => defineHasher({ id: "${id}", optionsSchema: v.optional(v.object({}), {}),
  create: () => ({ id: "${id}", hash: async () => "$${id}$x", verify: async () => false, canVerify: (h) => h.startsWith("$${id}$") }) });\n`;

describe("loading plugin files", () => {
  it("adds every *.ts / *.js plugin of the directory to the built-ins, skipping *.d.ts and other files", async () => {
    const dir = newDir();
    copyExample(dir, "hasher-pbkdf2.ts");
    copyExample(dir, "latchkey-plugin.d.ts");
    writePlugin(dir, "relay.js", RELAY_MAIL_PLUGIN);
    installRelayFormat(dir);
    writePlugin(dir, "two.ts", `const make = (id) => ({ defineHasher, v }) => defineHasher({ id, optionsSchema: v.optional(v.object({}), {}),
  create: () => ({ id, hash: async () => "$" + id + "$x", verify: async () => false, canVerify: (h) => h.startsWith("$" + id + "$") }) });
export default (api) => [make("alpha")(api), make("beta")(api)];\n`);
    writePlugin(dir, "README.md", "not a plugin");
    const { registry, loaded, problems } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    expect(problems).toEqual([]);
    expect(loaded.map((l) => [l.factory.kind, l.factory.id, l.file])).toEqual([
      ["hasher", "pbkdf2", join(dir, "hasher-pbkdf2.ts")],
      ["mail", "relay", join(dir, "relay.js")],
      ["hasher", "alpha", join(dir, "two.ts")],
      ["hasher", "beta", join(dir, "two.ts")],
    ]);
    expect(Object.keys(registry.hashers).sort()).toEqual(["alpha", "argon2id", "bcrypt", "beta", "pbkdf2", "scrypt"]);
    expect(Object.keys(registry.mailProviders).sort()).toEqual(["console", "file", "http", "relay", "smtp"]);
    // The built-in registry itself is untouched.
    expect(Object.keys(BUILTIN_PLUGINS.hashers).sort()).toEqual(["argon2id", "bcrypt", "scrypt"]);
  });

  it("lets a project name a plugin's id and validates its options with the plugin's own schema", async () => {
    const dir = newDir();
    copyExample(dir, "hasher-pbkdf2.ts");
    const { registry } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    const projects = newDir();
    writeFileSync(join(projects, "demo.yaml"), "id: demo\ntables: { users: { auth_table: true } }\nauth: { hasher: { algorithm: pbkdf2, options: { iterations: 5 } } }\n");
    const bad = loadProjects([projects], { env: {}, registry });
    expect(bad.issues.map(formatConfigIssue).join("\n")).toContain("auth.hasher.options.iterations");
    writeFileSync(join(projects, "demo.yaml"), "id: demo\ntables: { users: { auth_table: true } }\nauth: { hasher: { algorithm: pbkdf2, options: { iterations: 1000 } } }\n");
    const good = loadProjects([projects], { env: {}, registry });
    expect(good.issues).toEqual([]);
    expect(good.projects[0].auth.hasher).toEqual({ id: "pbkdf2", options: { iterations: 1000 } });
    // Without the plugin directory the id is unknown.
    expect(loadProjects([projects], { env: {}, registry: BUILTIN_PLUGINS }).issues.map(formatConfigIssue).join("\n")).toContain('unknown hasher algorithm "pbkdf2"');
  });
});

describe("refusing plugin files (each refusal names the file)", () => {
  const cases: { name: string; file: string; source: string; expected: RegExp }[] = [
    { name: "an id clashing with a built-in", file: "bcrypt.ts", source: HASHER("bcrypt"), expected: /id "bcrypt" clashes with the built-in hasher/ },
    { name: "a file that throws while loading", file: "throws.ts", source: `throw new Error("boom at import");\nexport default () => null;\n`, expected: /threw while loading: boom at import/ },
    { name: "a syntax error", file: "broken.ts", source: "export default ({ v } => ;\n", expected: /threw while loading: .*Expected/ },
    { name: "a missing import", file: "missing.ts", source: `import x from "no-such-package-here";\nexport default () => x;\n`, expected: /threw while loading/ },
    { name: "a default export that is not a function", file: "object.ts", source: "export default { id: 'x' };\n", expected: /must default-export a function/ },
    { name: "a plugin function that throws", file: "fn-throws.ts", source: "export default () => { throw new Error('no config'); };\n", expected: /plugin function threw: no config/ },
    { name: "a result that is not a plugin", file: "plain.ts", source: "export default () => ({ id: 'plain', send: async () => {} });\n", expected: /not a plugin \(no kind\)/ },
    { name: "null as the result", file: "null.ts", source: "export default () => null;\n", expected: /not a plugin but null/ },
    { name: "an invalid id", file: "bad-id.ts", source: HASHER("Bad Id"), expected: /plugin id must match/ },
    { name: "an options schema that is not valibot", file: "zodlike.ts", source: "export default ({ defineHasher }) => defineHasher({ id: 'zodlike', optionsSchema: { parse: (x) => x }, create: () => ({}) });\n", expected: /optionsSchema must be a valibot schema/ },
    { name: "a missing create", file: "no-create.ts", source: "export default ({ defineHasher, v }) => defineHasher({ id: 'nocreate', optionsSchema: v.object({}) });\n", expected: /create must be a function/ },
    { name: "an empty array", file: "empty.ts", source: "export default () => [];\n", expected: /empty array/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const dir = newDir();
      writePlugin(dir, "ok.ts", HASHER("fine"));
      const file = writePlugin(dir, c.file, c.source);
      const { problems } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
      expect(problems).toHaveLength(1);
      expect(problems[0].file).toBe(file);
      expect(problems[0].message).toMatch(c.expected);
    });
  }

  it("refuses an id defined by two files, naming both", async () => {
    const dir = newDir();
    writePlugin(dir, "a.ts", HASHER("twin"));
    const second = writePlugin(dir, "b.ts", HASHER("twin"));
    const { problems } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    expect(problems).toEqual([{ file: second, message: `hasher id "twin" is already defined by a.ts (${join(dir, "a.ts")})` }]);
  });

  it("refuses an id defined twice in two plugin directories", async () => {
    const a = newDir();
    const b = newDir();
    writePlugin(a, "one.ts", HASHER("dup"));
    const file = writePlugin(b, "two.ts", HASHER("dup"));
    const { problems } = await loadPluginDirs([a, b], BUILTIN_PLUGINS);
    expect(problems.map((p) => p.file)).toEqual([file]);
  });

  for (const mode of [0o664, 0o646, 0o666]) {
    it(`refuses a plugin file with mode ${mode.toString(8)} (writable by group or others) without importing it`, async () => {
      const dir = newDir();
      const marker = join(dir, "imported-marker");
      const file = writePlugin(dir, "loose.ts", `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "x");\nexport default ${HASHER("loose").replace("export default ", "")}`, mode);
      const { problems } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
      expect(problems).toHaveLength(1);
      expect(problems[0].file).toBe(file);
      expect(problems[0].message).toContain("writable by group or others");
      expect(await Bun.file(marker).exists()).toBe(false);
    });
  }

  for (const mode of [0o775, 0o757, 0o777]) {
    it(`refuses a plugin directory with mode ${mode.toString(8)} and loads nothing from it`, async () => {
      const dir = newDir();
      writePlugin(dir, "ok.ts", HASHER("fine2"));
      chmodSync(dir, mode);
      const { problems, loaded } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
      expect(problems).toEqual([{ file: dir, message: expect.stringContaining("plugin directory is writable by group or others") }]);
      expect(loaded).toEqual([]);
    });
  }

  it("refuses the directory when something in the node_modules beside the plugins is writable by others", async () => {
    const dir = newDir();
    writePlugin(dir, "relay.ts", RELAY_MAIL_PLUGIN);
    installRelayFormat(dir);
    expect((await loadPluginDirs([dir], BUILTIN_PLUGINS)).problems).toEqual([]);
    const index = join(dir, "node_modules", "relay-format", "index.js");
    chmodSync(index, 0o666);
    const { problems, loaded } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    expect(problems).toEqual([{ file: index, message: expect.stringContaining("a node_modules file is writable by group or others") }]);
    expect(loaded).toEqual([]);
    chmodSync(index, 0o644);
    chmodSync(join(dir, "node_modules"), 0o777);
    expect((await loadPluginDirs([dir], BUILTIN_PLUGINS)).problems.map((p) => p.file)).toEqual([join(dir, "node_modules")]);
  });

  it("refuses a missing directory and a file given instead of a directory", async () => {
    const dir = newDir();
    const file = writePlugin(dir, "ok.ts", HASHER("fine3"));
    const { problems } = await loadPluginDirs([join(dir, "nope"), file], BUILTIN_PLUGINS);
    expect(problems.map((p) => [p.file, p.message])).toEqual([
      [join(dir, "nope"), "no such plugin directory"],
      [file, expect.stringContaining("not a directory")],
    ]);
  });

  it("reports every refused file of a directory in one run", async () => {
    const dir = newDir();
    writePlugin(dir, "a.ts", HASHER("argon2id"));
    writePlugin(dir, "b.ts", "export default 1;\n");
    writePlugin(dir, "c.ts", HASHER("fine4"), 0o666);
    const { problems } = await loadPluginDirs([dir], BUILTIN_PLUGINS);
    // Unsafe files are refused while listing, before anything is imported.
    expect(problems.map((p) => p.file)).toEqual(["c.ts", "a.ts", "b.ts"].map((n) => join(dir, n)));
  });
});
