/**
 * Read -> YAML parse -> interpolate, for one project file. YAML errors carry a line and column
 * but never the offending source line (it may hold a secret).
 */
import { readFileSync, statSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import { interpolateEnv } from "./interpolate.ts";
import type { PathIssue } from "./issues.ts";

const MAX_PROJECT_FILE_BYTES = 1024 * 1024;

export interface ReadProjectFileResult {
  /** The interpolated top-level map, when the file could be read and parsed. */
  readonly raw?: Record<string, unknown>;
  readonly issues: readonly PathIssue[];
  readonly envValues: readonly string[];
  readonly failedPaths: readonly string[];
  /** Where a dotted key path sits in the file (the key, or the item of a list), when it is there. */
  readonly locate: (path: string) => SourcePosition | undefined;
}

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

const NOWHERE = (): undefined => undefined;

/**
 * Walks a dotted key path through the YAML nodes. A key may itself contain dots, so when a
 * segment is not found the next one is joined onto it. Returns the offset of the deepest key or
 * item found (the parent's position when the path names a key that is absent).
 */
function offsetOfPath(doc: Document, path: string): number | undefined {
  let node: Node | null | undefined = doc.contents as Node | null;
  let offset = node?.range?.[0];
  if (path === "") return offset;
  const segments = path.split(".");
  let i = 0;
  while (i < segments.length && node) {
    let found = false;
    for (let j = i + 1; j <= segments.length && !found; j++) {
      const key = segments.slice(i, j).join(".");
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key);
        if (pair) {
          offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? offset;
          node = pair.value as Node | null;
          i = j;
          found = true;
        }
      } else if (isSeq(node) && /^\d+$/.test(key)) {
        const item = node.items[Number(key)] as Node | undefined;
        if (item) {
          offset = item.range?.[0] ?? offset;
          node = item;
          i = j;
          found = true;
        }
      }
    }
    if (!found) break;
  }
  return offset;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const lastNewline = before.lastIndexOf("\n");
  return { line: before.split("\n").length, column: offset - lastNewline };
}

function readText(filePath: string): { text?: string; issue?: PathIssue } {
  try {
    if (statSync(filePath).size > MAX_PROJECT_FILE_BYTES) return { issue: { path: "", message: "the project file is larger than 1 MiB" } };
    return { text: readFileSync(filePath, "utf8") };
  } catch (error: unknown) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "";
    return { issue: { path: "", message: code === "ENOENT" ? "no such file" : "the project file cannot be read" } };
  }
}

/** Reads, parses and interpolates one project file. */
export function readProjectFile(filePath: string, env: Readonly<Record<string, string | undefined>>): ReadProjectFileResult {
  const empty = { envValues: [], failedPaths: [], locate: NOWHERE };
  const read = readText(filePath);
  if (read.text === undefined) return { ...empty, issues: read.issue === undefined ? [] : [read.issue] };
  const text = read.text;

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    // The first error is the real one (the rest usually cascade from it). The parser quotes
    // source tokens in some messages ("Unexpected scalar token in YAML stream: \"...\""): cut them.
    const first = doc.errors[0];
    const { line, column } = lineAndColumn(text, first.pos[0]);
    const message = first.message.replace(/:\s*["'][\s\S]*$/, "");
    const more = doc.errors.length > 1 ? ` (${doc.errors.length - 1} more after it, probably caused by this one)` : "";
    return { ...empty, issues: [{ path: "", message: `YAML syntax error at line ${line}, column ${column}: ${message}${more}`, line, column }] };
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (error: unknown) {
    const reason = error instanceof Error && /alias/i.test(error.message) ? "an alias is unresolved or expands too much" : "the document cannot be read";
    return { ...empty, issues: [{ path: "", message: `YAML error: ${reason}` }] };
  }
  if (root === null || root === undefined) return { ...empty, issues: [{ path: "", message: "the file is empty: a project file needs at least an id" }] };
  if (typeof root !== "object" || Array.isArray(root)) return { ...empty, issues: [{ path: "", message: "the top level must be a map (id: ..., tables: ...)" }] };

  const interpolated = interpolateEnv(root, env);
  return {
    raw: interpolated.value as Record<string, unknown>,
    issues: interpolated.issues,
    envValues: interpolated.envValues,
    failedPaths: interpolated.failedPaths,
    locate: (path: string): SourcePosition | undefined => {
      const offset = offsetOfPath(doc, path);
      if (offset === undefined) return undefined;
      const pos = lineCounter.linePos(offset);
      return { line: pos.line, column: pos.col };
    },
  };
}
