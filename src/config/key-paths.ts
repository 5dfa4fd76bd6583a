/**
 * Every key path a project file can hold, read off its JSON Schema (`latchkey schema`): used by the
 * documentation test, so a key added to the loader's schema must be documented. Free-form map
 * keys are written as placeholders: `tables.<table>.columns.<column>`.
 */
type Json = Record<string, unknown>;

const PLACEHOLDERS: Record<string, string> = { tables: "<table>", columns: "<column>" };

function resolve(root: Json, node: Json): Json {
  const ref = node.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return node;
  let target: unknown = root;
  for (const part of ref.slice(2).split("/")) target = (target as Json)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  return resolve(root, target as Json);
}

function walk(root: Json, node: Json, path: string, out: Set<string>, seen: Set<Json>): void {
  const schema = resolve(root, node);
  if (seen.has(schema)) return;
  seen.add(schema);
  for (const key of ["anyOf", "allOf", "oneOf"]) {
    for (const branch of (schema[key] as Json[] | undefined) ?? []) walk(root, branch, path, out, seen);
  }
  if (schema.then) walk(root, schema.then as Json, path, out, seen);
  const properties = schema.properties as Record<string, Json> | undefined;
  for (const [name, child] of Object.entries(properties ?? {})) {
    const childPath = path === "" ? name : `${path}.${name}`;
    out.add(childPath);
    walk(root, child, childPath, out, new Set(seen));
  }
  const extra = schema.additionalProperties;
  if (extra && typeof extra === "object" && path !== "") {
    const last = path.split(".").pop() ?? "";
    const childPath = `${path}.${PLACEHOLDERS[last] ?? "<name>"}`;
    out.add(childPath);
    walk(root, extra as Json, childPath, out, seen);
  }
}

export function projectFileKeyPaths(jsonSchema: Json): string[] {
  const out = new Set<string>();
  walk(jsonSchema, jsonSchema, "", out, new Set());
  return [...out];
}
