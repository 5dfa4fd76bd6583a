#!/usr/bin/env bun
/**
 * The CLI entry (SPEC §1): reads the command line (src/cli/args.ts) and hands over to the command's
 * module in src/cli/. Each command is loaded on demand, so `serve` does not pay for the schema
 * converter at start-up and `--version` loads nothing.
 */
import pkg from "../package.json" with { type: "json" };
import { HELP, parseArgs, UsageError } from "./cli/args.ts";
import { EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME } from "./cli/exit-codes.ts";

type Env = Record<string, string | undefined>;

async function main(argv: readonly string[], env: Env): Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(argv, env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`latchkey: ${e.message}\nRun \`latchkey --help\` for usage.\n`);
      return EXIT_CONFIG;
    }
    throw e;
  }
  switch (cmd.kind) {
    case "version":
      process.stdout.write(`latchkey ${pkg.version}\n`);
      return EXIT_OK;
    case "help":
      process.stdout.write(HELP);
      return EXIT_OK;
    case "serve":
      return (await import("./cli/serve.ts")).runServe(cmd.options, env);
    case "check":
      return (await import("./cli/check.ts")).runCheckCommand(cmd, env);
    case "schema":
      return (await import("./cli/schema.ts")).runSchema();
    case "init":
      return (await import("./cli/init.ts")).runInitCommand(cmd);
    case "plugin-test":
      return (await import("./cli/plugin.ts")).runPluginTestCommand(cmd);
    case "plugin-init":
      return (await import("./cli/plugin.ts")).runPluginInit(cmd.pluginKind, cmd.file);
    case "keys-rotate":
      if (cmd.database.engine === "postgres") return (await import("./cli/keys.ts")).runKeysRotatePostgres(cmd.projectId, cmd.which, cmd.database, env);
      return (await import("./cli/keys.ts")).runKeysRotate(cmd.projectId, cmd.which, cmd.dataDir);
    case "backup":
      return (await import("./cli/backup.ts")).runBackup(cmd);
    case "restore":
      return (await import("./cli/backup.ts")).runRestore(cmd);
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`latchkey: fatal: ${message}\n`);
    process.exit(EXIT_RUNTIME);
  },
);
