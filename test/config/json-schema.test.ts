/**
 * `latchkey schema`: the JSON Schema generated from the loader's valibot schemas, checked by a real
 * JSON Schema validator (ajv, draft 2020-12) against the files the loader accepts and the
 * structural cases of the bad-file table it refuses.
 */
import { describe, expect, it } from "bun:test";
import Ajv2020 from "ajv/dist/2020.js";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { loadProjects } from "../../src/config/load.ts";
import { projectFileJsonSchema, projectFileJsonSchemaText } from "../../src/config/json-schema.ts";
import { ROOT, runCli } from "../cli/run.ts";
import { CASES } from "./bad-cases.ts";
import { writeTree } from "./helpers.ts";

function compile() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  return ajv.compile(projectFileJsonSchema(BUILTIN_PLUGINS));
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

const GOOD_FILES = [
  join(ROOT, "project.example.yaml"),
  join(ROOT, "src/cli/starter-project.yaml"),
  ...yamlFiles(join(ROOT, "test/fixtures/config")),
];

describe("latchkey schema", () => {
  it("prints the committed project.schema.json, a 2020-12 schema", async () => {
    const r = await runCli([process.execPath, join(ROOT, "src/main.ts"), "schema"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(projectFileJsonSchemaText(BUILTIN_PLUGINS));
    // Regenerate with: bun src/main.ts schema > project.schema.json
    expect(readFileSync(join(ROOT, "project.schema.json"), "utf8")).toBe(r.stdout);
    expect(JSON.parse(r.stdout).$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });

  it("is named by the yaml-language-server header of project.example.yaml and the starter file", () => {
    for (const file of [join(ROOT, "project.example.yaml"), join(ROOT, "src/cli/starter-project.yaml")]) {
      expect(readFileSync(file, "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=./project.schema.json");
    }
  });

  it("carries the loader's keys, enums and plugin options", () => {
    const schema = projectFileJsonSchema(BUILTIN_PLUGINS) as { properties: Record<string, unknown>; $defs: Record<string, unknown> };
    expect(Object.keys(schema.properties).sort()).toEqual(["allowed_redirect_origins", "audit", "auth", "confirm_destructive", "cors", "id", "keys", "mail", "name", "tables"]);
    expect(JSON.stringify(schema.$defs.column_long_form)).toContain('"enum":["string","text","int","float","bool","date","datetime","timestamp","json","enum","ref","uuid"]');
    expect(JSON.stringify(schema)).toContain('"memory_cost"');
  });

  const validate = compile();

  for (const file of GOOD_FILES) {
    it(`accepts ${file.slice(ROOT.length)}, which the loader accepts too`, () => {
      const env = { SHOP_ADMIN_KEY: "sk_adminAdminAdminAdminAdminAdmin0001" };
      const loaded = loadProjects([file], { env, registry: BUILTIN_PLUGINS });
      expect(loaded.issues).toEqual([]);
      const ok = validate(parse(readFileSync(file, "utf8")));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    });
  }

  const structural = CASES.filter((c) => c.structural);
  it("has at least 20 structural bad cases to reject", () => {
    expect(structural.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of structural) {
    it(`rejects ${c.name}, as the loader does`, () => {
      const name = c.file ?? "demo.yaml";
      const dir = writeTree(c.files);
      const loaded = loadProjects([dir], { env: c.env ?? {}, registry: BUILTIN_PLUGINS });
      expect(loaded.issues.length).toBeGreaterThan(0);
      expect(validate(parse(c.files[name]) ?? null)).toBe(false);
    });
  }
});
