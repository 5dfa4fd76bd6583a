/** Plugin files for `serve` and `check`: loaded before any project file is read. */
import { BUILTIN_PLUGINS, type PluginRegistry } from "../../plugins/index.ts";
import { loadPluginDirs } from "../plugin-host/load-plugin-files.ts";

/**
 * The built-ins plus every plugin file of the plugin directories, loaded before any project file
 * is read so a project can name a plugin's id. Any refusal stops the command (exit 2).
 */
export async function loadRegistryOrReport(dirs: readonly string[], announce: (kind: string, id: string, file: string) => void): Promise<PluginRegistry | null> {
  if (dirs.length === 0) return BUILTIN_PLUGINS;
  const { registry, loaded, problems } = await loadPluginDirs(dirs, BUILTIN_PLUGINS);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`plugin error: ${p.file}: ${p.message}\n`);
    process.stderr.write(`${problems.length} plugin error(s); nothing was started.\n`);
    return null;
  }
  for (const l of loaded) announce(l.factory.kind === "hasher" ? "hasher" : "mail provider", l.factory.id, l.file);
  return registry;
}
