/**
 * `latchkey init [DIR]`: a commented starter project file and the JSON Schema its header names;
 * `latchkey init DIR --plugin KIND`: a plugin template in DIR/plugins/, ready for `serve --plugins DIR/plugins`.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, type PluginRegistry } from "../../plugins/index.ts";
import { projectFileJsonSchemaText } from "../config/json-schema.ts";
import starterProject from "./starter-project.yaml" with { type: "text" };
import { EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME } from "./exit-codes.ts";
import { runPluginInit } from "./plugin.ts";

export function runInitCommand(cmd: { dir: string; force: boolean; plugin: "mail" | "hasher" | null }): number {
  if (cmd.plugin !== null) {
    mkdirSync(join(cmd.dir, "plugins"), { recursive: true, mode: 0o755 });
    return runPluginInit(cmd.plugin, join(cmd.dir, "plugins", `${cmd.plugin}.ts`));
  }
  return runInit(cmd.dir, { force: cmd.force }, BUILTIN_PLUGINS);
}

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
