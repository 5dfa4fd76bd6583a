/** Writes project files into a fresh temp dir and loads them with the built-in plugins. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { loadProjects } from "../../src/config/load.ts";
import type { LoadResult } from "../../src/config/load.ts";

export function writeTree(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-config-"));
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return dir;
}

export function loadTree(
  files: Readonly<Record<string, string>>,
  env: Record<string, string | undefined> = {},
): LoadResult & { dir: string } {
  const dir = writeTree(files);
  return { ...loadProjects([dir], { env, registry: BUILTIN_PLUGINS }), dir };
}

/** A small valid project; `extra` is appended as more top-level YAML. */
export function project(extra = "", opts: { id?: string; columns?: string } = {}): string {
  return `id: ${opts.id ?? "demo"}
tables:
  users:
    auth_table: true
    columns:
      display_name: string max_length 80
${opts.columns ?? ""}
${extra}`;
}
