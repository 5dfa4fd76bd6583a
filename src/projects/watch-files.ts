/**
 * `serve --watch`: watches the project files and directories and calls back once a burst of
 * changes has settled. Directories are watched rather than files, so an editor that saves by
 * writing a new file and renaming it over the old one is still seen.
 */
import { watch, statSync, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";

/** Editors write a file in several steps; one reload after the last of them. */
export const WATCH_SETTLE_MS = 200;

const PROJECT_FILE = /\.ya?ml$/;

export function watchProjectFiles(paths: readonly string[], onChange: (file: string) => void, opts: { settleMs?: number } = {}): () => void {
  const watchers: FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastFile = "";
  const changed = (file: string): void => {
    lastFile = file;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange(lastFile);
    }, opts.settleMs ?? WATCH_SETTLE_MS);
  };
  // A directory: every project file in it (also new ones). A file: only that name in its directory.
  const byDir = new Map<string, Set<string> | null>();
  for (const p of paths) {
    const abs = resolve(p);
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir) byDir.set(abs, null);
    else {
      const dir = dirname(abs);
      const names = byDir.get(dir);
      if (names === null) continue;
      byDir.set(dir, new Set([...(names ?? []), basename(abs)]));
    }
  }
  for (const [dir, names] of byDir) {
    const w = watch(dir, { persistent: false }, (_event, name) => {
      const file = typeof name === "string" ? name : "";
      if (names === null ? PROJECT_FILE.test(file) && !file.startsWith(".") : names.has(file)) changed(`${dir}/${file}`);
    });
    watchers.push(w);
  }
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
