/**
 * `latchkey plugin init --kind mail|hasher FILE`: writes a working plugin template (the ones in
 * examples/plugins/, embedded in the binary) and, beside it, the type declarations it refers to.
 */
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
// The templates are embedded as text: they are written out, never run by the binary itself.
import hasherTemplateText from "../../examples/plugins/hasher-pbkdf2.ts" with { type: "text" };
import mailTemplateText from "../../examples/plugins/mail-json-api.ts" with { type: "text" };
// @ts-expect-error tsc refuses a value import of a declaration file; Bun embeds it as text.
import typesText from "../../examples/plugins/latchkey-plugin.d.ts" with { type: "text" };

export const PLUGIN_TYPES_FILE = "latchkey-plugin.d.ts";

function text(imported: unknown): string {
  if (typeof imported !== "string") throw new Error("plugin template not embedded as text");
  return imported;
}

/** Writes the template; returns the paths written, or throws when FILE exists. */
export function writePluginTemplate(kind: "mail" | "hasher", file: string): string[] {
  if (!/\.(ts|js)$/.test(file) || file.endsWith(".d.ts")) throw new Error(`${file}: a plugin file name ends in .ts (or .js)`);
  if (existsSync(file)) throw new Error(`${file} already exists; nothing was written`);
  const written: string[] = [];
  // 0644: a plugin file writable by group or others is refused at boot.
  writeFileSync(file, text(kind === "hasher" ? hasherTemplateText : mailTemplateText), { mode: 0o644, flag: "wx" });
  written.push(file);
  const types = join(dirname(file), PLUGIN_TYPES_FILE);
  if (!existsSync(types)) {
    writeFileSync(types, text(typesText), { mode: 0o644, flag: "wx" });
    written.push(types);
  }
  return written;
}
