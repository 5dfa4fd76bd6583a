import { describe, expect, it } from "bun:test";
import { parseArgs, UsageError } from "./args.ts";

describe("operations arguments", () => {
  it("reads --watch and --metrics for serve (both off by default)", () => {
    const on = parseArgs(["serve", "--config", "p.yaml", "--watch", "--metrics"], {});
    expect(on.kind === "serve" && on.options.watch && on.options.metrics).toBe(true);
    const off = parseArgs(["serve", "--config", "p.yaml"], {});
    expect(off.kind === "serve" && !off.options.watch && !off.options.metrics).toBe(true);
  });

  it("parses backup and restore, with the data dir from the flag, the environment or ./data", () => {
    expect(parseArgs(["backup", "--project", "demo", "--out", "b.db"], {})).toEqual({ kind: "backup", projectId: "demo", outPath: "b.db", dataDir: "./data" });
    expect(parseArgs(["restore", "--project", "demo", "--from", "b.db"], { LATCHKEY_DATA_DIR: "/srv/d" })).toEqual({
      kind: "restore", projectId: "demo", fromPath: "b.db", dataDir: "/srv/d",
    });
    expect(parseArgs(["backup", "--project", "demo", "--out", "b.db", "--data", "x"], { LATCHKEY_DATA_DIR: "/srv/d" })).toMatchObject({ dataDir: "x" });
  });

  it("refuses incomplete or mixed-up backup and restore commands", () => {
    for (const argv of [
      ["backup", "--project", "demo"],
      ["backup", "--out", "b.db"],
      ["restore", "--project", "demo", "--out", "b.db"],
      ["backup", "--project", "demo", "--from", "b.db"],
      ["restore", "extra", "--project", "demo", "--from", "b.db"],
    ]) {
      expect(() => parseArgs(argv, {})).toThrow(UsageError);
    }
  });
});

describe("usage errors keep their messages (exit 2 in main.ts)", () => {
  const C = ["--config", "p.yaml"];
  const cases: [argv: string[], message: string][] = [
    [["--bogus", "--help"], "unknown option --bogus"],
    [["serve", "-x"], "unknown option -x"],
    [["-abc"], "unknown option -abc"],
    [["-h=3"], "unknown option -h=3"],
    [["--=x"], "unknown option --"],
    [["serve", "--", "x"], "unknown option --"],
    [["-"], "unknown option -"],
    [["serve", "--config"], "--config needs a value"],
    [["serve", "--config", "--watch"], "--config needs a value"],
    [["serve", ...C, "--watch=1"], "--watch takes no value"],
    [["serve", ...C, "--json", "--options", "{}"], "--options is not an option of `latchkey serve`"],
    [["--version", "serve", ...C], "--version is not an option of `latchkey serve`"],
    [["check", ...C, "--watch"], "--watch is not an option of `latchkey check`"],
    [["schema", "--json"], "--json is not an option of `latchkey schema`"],
    [["serve", ...C, "extra"], "unexpected argument extra"],
    [["serve", ...C, "--port", "-1"], "invalid port -1"],
    [["serve", ...C, "--port=70000"], "invalid port 70000"],
    [["serve", ...C, "--log-level", "loud"], "invalid log level loud"],
    [["serve", ...C, "--max-open-projects", "1.5"], "invalid --max-open-projects 1.5 (a whole number >= 1)"],
    [["serve", ...C, "--public-url", "ftp://x"], "the public URL must be an http(s) URL without query, fragment or credentials"],
    [["serve"], "no project file given: use --config PATH (a file or a directory) or LATCHKEY_CONFIG; `latchkey init` writes a starter project file"],
    [["init", "d", "--plugin", "sms"], "init --plugin takes mail or hasher"],
    [["plugin", "init", "--kind", "sms", "m.ts"], "plugin init needs --kind mail or --kind hasher"],
    [["keys", "rotate", "--admin"], "keys rotate needs --project ID"],
    [["keys", "rotate", "--project", "demo", "--admin", "--public"], "keys rotate needs exactly one of --admin, --public, --both"],
    [["keys", "list"], "usage: latchkey keys rotate --project ID (--admin | --public | --both) [--data DIR]"],
    [["backup", "--project", "demo", "--out"], "--out needs a value"],
    [["restore", "--project", "demo", "--out", "b.db"], "--out is not an option of `latchkey restore`"],
    [["frobnicate"], "unknown command frobnicate"],
  ];
  for (const [argv, message] of cases) {
    it(`${argv.join(" ") || "(nothing)"} -> ${message}`, () => {
      let thrown: unknown = null;
      try {
        parseArgs(argv, {});
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(UsageError);
      expect((thrown as Error).message).toBe(message);
    });
  }

  it("still reads flags in every spelling: repeated, inline, last one wins, -h / -v anywhere", () => {
    expect(parseArgs(["-h"], {})).toEqual({ kind: "help" });
    expect(parseArgs(["serve", "--json", "-h"], {})).toEqual({ kind: "help" });
    expect(parseArgs(["-v"], {})).toEqual({ kind: "version" });
    const serve = parseArgs(["serve", "--config=a", "--config", "b", "--port", "1", "--port=0", "--host", "::1"], {});
    expect(serve).toMatchObject({ kind: "serve", options: { configPaths: ["a", "b"], port: 0, host: "::1", publicUrl: "http://[::1]:0", publicUrlDerived: true } });
    expect(parseArgs(["plugin", "test", "x.ts", "--options=-1"], {})).toMatchObject({ options: "-1" });
    expect(parseArgs(["keys", "rotate", "--project", "demo", "--both"], { LATCHKEY_DATA_DIR: "/d" })).toEqual({ kind: "keys-rotate", projectId: "demo", which: "both", dataDir: "/d" });
  });
});
