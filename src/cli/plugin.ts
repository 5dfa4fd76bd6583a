/** `latchkey plugin test` and `latchkey plugin init` (docs/plugins.md). */
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { runPluginTest } from "../plugin-host/test-plugin.ts";
import { writePluginTemplate } from "./plugin-init.ts";
import { EXIT_CONFIG, EXIT_OK } from "./exit-codes.ts";

export function runPluginTestCommand(cmd: { target: string; options: string | null; otherOptions: string | null }): Promise<number> {
  return runPluginTest({
    target: cmd.target,
    optionsJson: cmd.options,
    otherOptionsJson: cmd.otherOptions,
    builtins: BUILTIN_PLUGINS,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}

/** Writes a plugin template (and its type declarations) to `file`; exit 2 when it exists. */
export function runPluginInit(kind: "mail" | "hasher", file: string): number {
  try {
    for (const written of writePluginTemplate(kind, file)) process.stdout.write(`wrote ${written}\n`);
    return EXIT_OK;
  } catch (e) {
    process.stderr.write(`latchkey: ${(e as Error).message}\n`);
    return EXIT_CONFIG;
  }
}
