/**
 * The documentation is checked against the code, not against a list: every key of the project-file
 * schema must appear in docs/configuration.md, every route the app registers and every code of the
 * error table in docs/api.md. A key, route or code added later fails here until it is documented.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { projectFileJsonSchema } from "../../src/config/json-schema.ts";
import { projectFileKeyPaths } from "../../src/config/key-paths.ts";
import { ERROR_STATUS } from "../../src/http/errors.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";

const ROOT = join(import.meta.dir, "../..");
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("docs/configuration.md", () => {
  const doc = read("docs/configuration.md");
  const keys = projectFileKeyPaths(projectFileJsonSchema(BUILTIN_PLUGINS));

  it("is checked against the schema's real keys", () => {
    // The walk itself must find the nested keys, or the test below would check nothing.
    expect(keys).toContain("auth.rate_limits.login_per_ip.window");
    expect(keys).toContain("tables.<table>.columns.<column>.on_delete");
    expect(keys).toContain("mail.options.require_tls");
    expect(keys.length).toBeGreaterThan(90);
  });

  for (const key of keys) {
    it(`documents \`${key}\``, () => {
      expect(doc).toContain(`\`${key}\``);
    });
  }
});

describe("docs/api.md", () => {
  const doc = read("docs/api.md");
  let t: TestInstance;
  let routes: { method: string; path: string }[] = [];
  beforeAll(async () => {
    t = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true } } }]);
    routes = t.booted.app.routes.map((r) => ({ method: r.method, path: r.path.replace(":projectId", "{id}").replace(/:([A-Za-z_]+)/g, "{$1}") }));
  });
  afterAll(async () => {
    await t.close();
  });

  // The console's HTML pages are documented in docs/console.md; every other route in docs/api.md.
  const isConsole = (r: { path: string }): boolean => r.path.startsWith("/p/{id}/admin/");

  it("documents every route the app registers", () => {
    expect(routes.filter((r) => !isConsole(r)).length).toBeGreaterThanOrEqual(18);
    const missing = routes.filter((r) => !isConsole(r) && !new RegExp(`\`${r.method} ${escape(r.path)}[\`?]`).test(doc));
    expect(missing).toEqual([]);
  });

  it("documents every page and form post of the admin console in docs/console.md", () => {
    const consoleDoc = readFileSync(join(ROOT, "docs/console.md"), "utf8");
    expect(routes.filter(isConsole).length).toBeGreaterThanOrEqual(20);
    const missing = routes.filter((r) => isConsole(r) && !new RegExp(`\`${r.method} ${escape(r.path)}[\`?]`).test(consoleDoc));
    expect(missing).toEqual([]);
  });

  it("documents every error code with its status", () => {
    const codes = Object.entries(ERROR_STATUS);
    expect(codes.length).toBeGreaterThanOrEqual(26);
    const missing = codes.filter(([code, status]) => !new RegExp(`^\\| ${status} \\| \`${code}\` \\|`, "m").test(doc)).map(([code]) => code);
    expect(missing).toEqual([]);
  });
});

describe("README.md", () => {
  const readme = read("README.md");

  it("gives the two commands, a tour of signup, me, refresh and logout, and links into docs/", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test");
    const tour = ["/auth/signup", "/auth/me", "/auth/refresh", "/auth/logout"].map((p) => readme.indexOf(`localhost:8080/p/demo${p}`));
    expect(tour.every((i) => i > 0)).toBe(true);
    expect([...tour].sort((a, b) => a - b)).toEqual(tour);
    for (const page of ["configuration", "api", "architecture", "operations"]) expect(readme).toContain(`(docs/${page}.md)`);
  });
});

describe("the repository", () => {
  it("refers to no path outside itself", () => {
    const files = new TextDecoder().decode(Bun.spawnSync(["git", "ls-files"], { cwd: ROOT }).stdout).split("\n").filter(Boolean);
    expect(files.length).toBeGreaterThan(100);
    const outside = ["../" + "shared", "SPEC" + ".md", "/work" + "/"];
    const hits: string[] = [];
    for (const file of files) {
      if (/\.(png|jpg|ico|db|lockb)$/.test(file) || file === "package-lock.json") continue;
      let text: string;
      try {
        text = read(file);
      } catch {
        continue; // deleted in the work tree
      }
      for (const needle of outside) if (text.includes(needle)) hits.push(`${file}: ${needle}`);
    }
    expect(hits).toEqual([]);
  });
});
