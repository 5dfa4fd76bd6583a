import { describe, expect, it } from "bun:test";
import { parseArgs, UsageError } from "../../src/cli/args.ts";

const CONFIG = ["--config", "p.yaml"];

describe("plugin arguments", () => {
  it("serve and check take --plugins DIR (repeatable), else LATCHKEY_PLUGINS (comma-separated), else none", () => {
    const serve = (argv: string[], env: Record<string, string> = {}) => {
      const cmd = parseArgs(["serve", ...CONFIG, ...argv], env);
      if (cmd.kind !== "serve") throw new Error("not serve");
      return cmd.options.pluginDirs;
    };
    expect(serve([])).toEqual([]);
    expect(serve(["--plugins", "a", "--plugins=b"])).toEqual(["a", "b"]);
    expect(serve([], { LATCHKEY_PLUGINS: " /etc/p , /opt/q ," })).toEqual(["/etc/p", "/opt/q"]);
    expect(serve(["--plugins", "flag"], { LATCHKEY_PLUGINS: "env" })).toEqual(["flag"]);
    expect(parseArgs(["check", ...CONFIG, "--plugins", "d"], {})).toEqual({ kind: "check", configPaths: ["p.yaml"], dataDir: null, json: false, envOptional: false, pluginDirs: ["d"], database: { engine: "sqlite" } });
    expect(parseArgs(["check", ...CONFIG], { LATCHKEY_PLUGINS: "e" })).toMatchObject({ pluginDirs: ["e"] });
  });

  it("parses plugin test and plugin init", () => {
    expect(parseArgs(["plugin", "test", "x.ts"], {})).toEqual({ kind: "plugin-test", target: "x.ts", options: null, otherOptions: null });
    expect(parseArgs(["plugin", "test", "x.ts", "--options", '{"a":1}', "--other-options", "{}"], {})).toEqual({
      kind: "plugin-test", target: "x.ts", options: '{"a":1}', otherOptions: "{}",
    });
    expect(parseArgs(["plugin", "init", "--kind", "mail", "m.ts"], {})).toEqual({ kind: "plugin-init", pluginKind: "mail", file: "m.ts" });
  });

  it("refuses malformed plugin commands and plugin flags where they do not belong", () => {
    for (const argv of [
      ["plugin"],
      ["plugin", "list"],
      ["plugin", "test"],
      ["plugin", "test", "a.ts", "b.ts"],
      ["plugin", "test", "a.ts", "--kind", "mail"],
      ["plugin", "init", "m.ts"],
      ["plugin", "init", "--kind", "sms", "m.ts"],
      ["plugin", "init", "--kind", "mail"],
      ["keys", "rotate", "--project", "demo", "--admin", "--plugins", "d"],
      ["serve", ...CONFIG, "--options", "{}"],
      ["serve", ...CONFIG, "--plugins"],
    ]) {
      expect(() => parseArgs(argv, {})).toThrow(UsageError);
    }
  });
});
