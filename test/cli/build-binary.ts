/** Builds the real single-file executable (the flags of `npm run build`) into a temp dir. */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runCli } from "./run.ts";

/** Builds `dir/run/latchkey` (the build tree is removed, so it runs without node_modules). */
export async function buildBinary(dir: string): Promise<string> {
  const out = join(dir, "build", "latchkey");
  const build = await runCli(
    [process.execPath, "build", join(ROOT, "src/main.ts"), join(ROOT, "src/storage/sqlite/checkpoint-worker.ts"), "--compile", "--production", "--bytecode",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--outfile", out],
    { cwd: ROOT },
  );
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  mkdirSync(join(dir, "run"), { recursive: true });
  const bin = join(dir, "run", "latchkey");
  copyFileSync(out, bin);
  rmSync(join(dir, "build"), { recursive: true });
  return bin;
}

/** A minimal project file (cheap test hasher) with the given mail section. */
export function minimalProject(id: string, mail = "mail: { provider: console, from: \"App <no-reply@example.com>\" }"): string {
  return [
    `id: ${id}`,
    `name: ${id}`,
    "tables:",
    "  users:",
    "    auth_table: true",
    "    verify_email: true",
    "    columns: {}",
    "auth:",
    "  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }",
    mail,
    "",
  ].join("\n");
}
