/** `latchkey init [DIR]`: a commented starter project file and the JSON Schema its header names. */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PluginRegistry } from "../../plugins/index.ts";
import { projectFileJsonSchemaText } from "../config/json-schema.ts";
import starterProject from "./starter-project.yaml" with { type: "text" };

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_CONFIG = 2;

export function runInit(dir: string, opts: { force: boolean }, registry: PluginRegistry): number {
  const projectPath = join(dir, "project.yaml");
  const schemaPath = join(dir, "project.schema.json");
  if (existsSync(projectPath) && !opts.force) {
    process.stderr.write(`latchkey: ${projectPath} already exists (use --force to overwrite it)\n`);
    return EXIT_CONFIG;
  }
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(projectPath, starterProject, { flag: opts.force ? "w" : "wx" });
    writeFileSync(schemaPath, projectFileJsonSchemaText(registry));
  } catch (e) {
    process.stderr.write(`latchkey: cannot write ${projectPath}: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  process.stdout.write(`wrote ${projectPath} and ${schemaPath}\nnext: latchkey check --config ${projectPath} && latchkey serve --config ${projectPath}\n`);
  return EXIT_OK;
}
