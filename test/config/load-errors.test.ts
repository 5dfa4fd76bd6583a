import { describe, expect, it } from "bun:test";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { formatConfigIssue, loadProjects } from "../../src/config/load.ts";
import { loadTree, project } from "./helpers.ts";
import { CASES } from "./bad-cases.ts";

describe("loadProjects refuses bad project files", () => {
  it("has a table of at least 35 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(35);
  });

  for (const c of CASES) {
    it(`names ${c.path === "" ? "the file" : c.path} for ${c.name}`, () => {
      const { projects, issues, dir } = loadTree(c.files, c.env);
      const file = `${dir}/${c.file ?? "demo.yaml"}`;
      const lines = issues.map(formatConfigIssue).join("\n");
      const match = issues.find((i) => i.file === file && i.path === c.path && i.message.includes(c.message));
      if (match === undefined) throw new Error(`no issue at ${JSON.stringify(c.path)} containing ${JSON.stringify(c.message)}; got:\n${lines}`);
      expect(issues).toHaveLength(c.count ?? 1);
      expect(projects.map((p) => p.filePath)).not.toContain(file);
      for (const secret of c.secrets ?? []) expect(lines).not.toContain(secret);
    });
  }

  it("names both files for a duplicate project id", () => {
    const { issues, dir } = loadTree({ "a.yaml": project(), "b.yaml": project() });
    expect(issues).toHaveLength(1);
    expect(formatConfigIssue(issues[0])).toBe(`${dir}/b.yaml: id: duplicate project id "demo": also declared in ${dir}/a.yaml (line 1, column 1)`);
  });

  it("collects the problems of every section and every file at once", () => {
    const { issues } = loadTree({
      "a.yaml": "id: Bad\nauth:\n  access_token_ttl: soon\ntables:\n  users:\n    columns:\n      id: string\n      x: file\n",
      "b.yaml": "id: b-project\nmail:\n  provider: pigeon\n",
    });
    const paths = issues.map((i) => i.path).sort();
    expect(paths).toEqual(["auth.access_token_ttl", "id", "mail.provider", "tables.users.columns.id", "tables.users.columns.x"]);
  });

  it("still checks plugin options when another key of their section is wrong", () => {
    const { issues } = loadTree({
      "demo.yaml": "id: demo\nauth:\n  access_token_ttl: soon\n  hasher: { options: { memory_cost: 1 } }\nmail:\n  from: 'a, b'\n  provider: smtp\n",
    });
    expect(issues.map((i) => i.path).sort()).toEqual(["auth.access_token_ttl", "auth.hasher.options.memory_cost", "mail.from", "mail.options"]);
  });

  it("reports a path that does not exist", () => {
    const result = loadProjects(["/nonexistent/latchkey/projects"], { env: {}, registry: BUILTIN_PLUGINS });
    expect(result.issues).toEqual([{ file: "/nonexistent/latchkey/projects", path: "", message: "no such file or directory" }]);
  });

  it("reports a directory without project files", () => {
    const { issues } = loadTree({ "README.md": "not a project" });
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toContain("no *.yaml or *.yml project files");
  });
});
