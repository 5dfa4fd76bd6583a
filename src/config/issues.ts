/**
 * Turning validation problems into ConfigIssues, and printing them. Valibot's default messages
 * echo the received value ("... but received \"sk_live...\""), so every issue without a message of
 * our own gets one built here from the *type* of the value, never the value itself.
 */
import type { BaseIssue, Config } from "valibot";
import { getDotPath } from "valibot";
import type { ConfigIssue } from "./types.ts";

/** An issue before it is attached to a file. */
export interface PathIssue {
  readonly path: string;
  readonly message: string;
  /** 1-based position in the file, when known. */
  readonly line?: number;
  readonly column?: number;
}

export function joinPath(parent: string, child: string | number): string {
  if (parent === "") return String(child);
  if (child === "") return parent;
  return `${parent}.${child}`;
}

/** A value's kind for messages: "a string", "a number", "a list", "a map", "nothing". */
export function describeKind(value: unknown): string {
  if (value === undefined || value === null) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "true/false";
  return `a ${typeof value}`;
}

function describeExpected(expected: string | null): string {
  switch (expected) {
    case "string": return "a string";
    case "number": return "a number";
    case "boolean": return "true or false";
    case "Object": return "a map";
    case "Array": return "a list";
    case null: return "a different value";
    default: return expected;
  }
}

/** Message for issues that carry none of their own. Never includes the received value. */
export function describeIssue(issue: BaseIssue<unknown>): string {
  if (issue.kind === "schema") {
    if (issue.type === "strict_object" && issue.expected === "never" && typeof issue.input === "string") {
      return `unknown key "${issue.input.slice(0, 80)}"`;
    }
    if (issue.input === undefined) return `is required (${describeExpected(issue.expected)})`;
    return `expected ${describeExpected(issue.expected)}, got ${describeKind(issue.input)}`;
  }
  switch (issue.type) {
    case "integer": return "must be a whole number";
    case "min_value": return `must be at least ${String(issue.requirement)}`;
    case "max_value": return `must be at most ${String(issue.requirement)}`;
    case "min_length": return `must have a length of at least ${String(issue.requirement)}`;
    case "max_length": return `must have a length of at most ${String(issue.requirement)}`;
    case "regex": return "has an invalid format";
    default: return `invalid value (expected ${describeExpected(issue.expected)})`;
  }
}

/** Parse config for every schema run by the loader (project sections and plugin options). */
export const VALIBOT_CONFIG: Config<BaseIssue<unknown>> = { message: describeIssue, abortEarly: false };

/** Flattens valibot issues into PathIssues under `prefix`. */
export function toPathIssues(issues: readonly BaseIssue<unknown>[], prefix: string): PathIssue[] {
  return issues.map((issue: BaseIssue<unknown>): PathIssue => ({
    path: joinPath(prefix, getDotPath(issue) ?? ""),
    message: issue.message,
  }));
}

/**
 * Last line of defence for "secret values are never echoed": replaces any occurrence of a known
 * secret (keys, plugin options, anything read from the environment) in a message.
 */
export function redactMessage(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret.length >= 6 && out.includes(secret)) out = out.split(secret).join("[redacted]");
  }
  return out;
}

/** `<file>: <path>: <message> (line L, column C)` (the path is left out for whole-file issues). */
export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line === undefined || /^YAML syntax error at line/.test(i.message) ? "" : ` (line ${i.line}, column ${i.column ?? 1})`;
  return i.path === "" ? `${i.file}: ${i.message}${where}` : `${i.file}: ${i.path}: ${i.message}${where}`;
}
