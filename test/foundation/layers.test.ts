/**
 * The layers of src/ (docs/architecture.md, "Layers"): every import runs downward or stays in
 * its layer. Read from the import lines of every source file, so a new upward edge fails here.
 */
import { describe, expect, it } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/** Lowest first: a file may import its own layer and the layers below it, never one above. */
const LAYERS: readonly { readonly name: string; readonly owns: (path: string) => boolean }[] = [
  {
    name: "foundation",
    owns: (p) => /^(config|crypto|metrics|host|plugin-host)\//.test(p) || ["log.ts", "plugin-api.ts", "server-key.ts", "env.d.ts"].includes(p),
  },
  { name: "storage interface", owns: (p) => /^storage\/[^/]+\.ts$/.test(p) || p.startsWith("storage/schema/") || p.startsWith("users/") },
  { name: "storage engines", owns: (p) => /^storage\/[^/]+\//.test(p) },
  { name: "http helpers", owns: (p) => p.startsWith("http/") },
  { name: "project runtime", owns: (p) => p.startsWith("projects/") },
  { name: "mail", owns: (p) => p.startsWith("mail/") },
  { name: "routes", owns: (p) => isRoute(p) },
  { name: "services", owns: (p) => p.startsWith("modules/") },
  { name: "entry", owns: (p) => /^(cli\/|app\.ts$|boot\.ts$|main\.ts$)/.test(p) },
];
/** Routes sit above the services they call (the array is searched in order, so list them first there). */
const ORDER = ["foundation", "storage interface", "storage engines", "http helpers", "project runtime", "mail", "services", "routes", "entry"];

function isRoute(p: string): boolean {
  return (
    /^modules\/(.+\/)?routes\.ts$/.test(p) ||
    p === "modules/route-table.ts" ||
    p === "modules/auth-routes.ts" ||
    p.startsWith("modules/openapi/") ||
    p.startsWith("modules/console/pages/")
  );
}

/**
 * Type-only edges that may point up, each with its reason. The route context names the runtime and
 * pool types routes receive; no value crosses (the test below refuses any value import upward).
 */
const TYPE_ONLY_UP: ReadonlySet<string> = new Set([
  "http/context.ts -> projects/runtime.ts",
  "http/context.ts -> projects/pool.ts",
  "http/storage-wait.ts -> projects/pool.ts",
]);

function layerOf(path: string): number {
  const layer = LAYERS.find((l) => l.owns(path));
  if (!layer) throw new Error(`no layer for src/${path}: add it to the layer map`);
  return ORDER.indexOf(layer.name);
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
  readonly names: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(full);
  }
  return out;
}

/** `import ... from "./x"` and `export ... from "./x"` (also across lines), relative targets inside src/. */
export function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const re = /^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+"(\.{1,2}\/[^"]+)"/gms;
  for (const m of text.matchAll(re)) {
    const target = resolve(dirname(file), m[4]);
    const rel = relative(SRC, target);
    if (rel.startsWith("..")) continue; // plugins/ and the like: outside src/
    const names = m[3];
    // `import { type A, type B } from` is type-only too.
    const typeOnly = m[2] !== undefined || /^\{\s*(type\s+\w+(\s+as\s+\w+)?\s*,?\s*)+\}$/.test(names.trim());
    edges.push({ from: relative(SRC, file), to: rel, typeOnly, names });
  }
  return edges;
}

function upwardEdges(edges: readonly Edge[]): string[] {
  const bad: string[] = [];
  for (const e of edges) {
    if (layerOf(e.to) <= layerOf(e.from)) continue;
    const key = `${e.from} -> ${e.to}`;
    if (e.typeOnly && TYPE_ONLY_UP.has(key)) continue;
    bad.push(`${key}${e.typeOnly ? " (type)" : ""}`);
  }
  return bad;
}

const FILES = sourceFiles(SRC);
const EDGES = FILES.flatMap((f) => importsOf(f, readFileSync(f, "utf8")));

describe("layers of src/", () => {
  it("reads the import lines of every source file (the check sees real edges)", () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(EDGES.length).toBeGreaterThan(500);
    // A multi-line import is read too.
    expect(EDGES.some((e) => e.from === "projects/pool.ts" && e.to === "projects/runtime.ts")).toBe(true);
  });

  it("every file of src/ is in the layer map", () => {
    const unmapped = FILES.map((f) => relative(SRC, f)).filter((p) => !LAYERS.some((l) => l.owns(p)));
    expect(unmapped).toEqual([]);
  });

  it("no import runs upward (routes -> services -> mail -> runtime -> http -> engines -> storage interface -> foundation)", () => {
    expect(upwardEdges(EDGES)).toEqual([]);
  });

  it("the type-only exceptions are still needed and still type-only", () => {
    for (const key of TYPE_ONLY_UP) {
      const [from, to] = key.split(" -> ");
      const found = EDGES.filter((e) => e.from === from && e.to === to);
      expect({ key, found: found.length > 0 }).toEqual({ key, found: true });
      expect({ key, typeOnly: found.every((e) => e.typeOnly) }).toEqual({ key, typeOnly: true });
    }
  });

  it("the storage interface imports no engine, and services never reach an engine", () => {
    const bad = EDGES.filter(
      (e) =>
        /^storage\/(sqlite|postgres)\//.test(e.to) &&
        (/^storage\/[^/]+\.ts$/.test(e.from) || e.from.startsWith("modules/") || e.from.startsWith("mail/")),
    ).map((e) => `${e.from} -> ${e.to}`);
    expect(bad).toEqual([]);
  });

  it("the user model throws no HTTP error (src/users imports nothing of src/http)", () => {
    expect(EDGES.filter((e) => e.from.startsWith("users/") && e.to.startsWith("http/")).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it("services queue mail through one method per event (src/mail/events.ts), not the generic writer", () => {
    const generic = EDGES.filter((e) => e.to === "mail/mailer.ts" && /\bqueueTemplateMail\b/.test(e.names)).map((e) => e.from);
    expect(generic).toEqual(["mail/events.ts"]);
    const outbox = EDGES.filter((e) => e.to === "mail/outbox.ts" && /\benqueueMail\b/.test(e.names)).map((e) => e.from);
    expect(outbox).toEqual(["mail/mailer.ts"]);
  });
});

describe("the layer check itself", () => {
  it("finds an upward value import, a multi-line one and an upward type import", () => {
    const fake = join(SRC, "storage/fake.ts");
    const text = [
      'import { signup } from "../modules/signup/service.ts";',
      "import {",
      "  loadProjectRuntime,",
      '} from "../projects/runtime.ts";',
      'import type { ProjectRuntime } from "../projects/runtime.ts";',
      'import { sha256Hex } from "../crypto/digest.ts";',
    ].join("\n");
    expect(upwardEdges(importsOf(fake, text))).toEqual([
      "storage/fake.ts -> modules/signup/service.ts",
      "storage/fake.ts -> projects/runtime.ts",
      "storage/fake.ts -> projects/runtime.ts (type)",
    ]);
  });

  it("a value import on an allowed type-only edge is still refused", () => {
    const ctx = join(SRC, "http/context.ts");
    expect(upwardEdges(importsOf(ctx, 'import { createProjectPool } from "../projects/pool.ts";'))).toEqual(["http/context.ts -> projects/pool.ts"]);
    expect(upwardEdges(importsOf(ctx, 'import { type ProjectPool } from "../projects/pool.ts";'))).toEqual([]);
  });
});
