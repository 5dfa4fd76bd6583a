/**
 * What a project's PostgreSQL schema actually holds, read from the catalogs into the same
 * LiveTable shape the SQLite engine reads from its pragmas, so the shared planner compares both the
 * same way: types in the model's words (TEXT, INTEGER, REAL), defaults as plain SQL literals,
 * CHECKs rewritten to the `"col" IN (...)` form Latchkey writes, foreign keys and indexes by name.
 * Read-only.
 */
import type { SQL } from "bun";
import type { LiveColumn, LiveTable } from "../schema/introspect.ts";
import { isReservedTableName, type ModelIndex } from "../schema/model.ts";
import { quoteIdent } from "../schema/sql-text.ts";

const TYPE_WORDS: Record<string, string> = { text: "TEXT", bigint: "INTEGER", "double precision": "REAL" };
const ON_DELETE: Record<string, string> = { a: "NO ACTION", r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };

/** `'a''b'::text` -> `'a''b'`; `'-1'::bigint` / `(-1)` -> `-1`; anything else unchanged. */
export function normalizeDefault(expr: string | null): string | null {
  if (expr === null) return null;
  let e = expr.trim();
  const cast = /^(.*)::(text|bigint|integer|numeric|double precision|real|smallint)$/s.exec(e);
  if (cast) {
    const [, value, type] = cast;
    e = value;
    if (type !== "text" && /^'-?[0-9.eE+-]+'$/.test(e)) e = e.slice(1, -1);
  }
  while (/^\(.*\)$/s.test(e)) e = e.slice(1, -1);
  return e;
}

/** Splits `'a'::text, 'b, c'::text` at the commas outside quotes. */
function splitList(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of text) {
    if (ch === "'") quoted = !quoted;
    if (ch === "," && !quoted) {
      out.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  if (current.trim() !== "") out.push(current.trim());
  return out;
}

/**
 * `CHECK ((role = ANY (ARRAY['a'::text, 'b'::text])))` (how PostgreSQL prints the CHECK Latchkey
 * wrote as `"role" IN ('a','b')`) -> `CHECK ("role" IN ('a','b'))`; anything else is kept as printed,
 * so it never matches an expected CHECK by accident.
 */
export function normalizeCheck(def: string): string {
  const m = /^CHECK \(\((.+) = ANY \(ARRAY\[(.*)\]\)\)\)$/s.exec(def.trim());
  if (!m) return def;
  const column = m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1];
  const values = splitList(m[2]).map((v) => normalizeDefault(v) ?? v);
  return `CHECK (${quoteIdent(column)} IN (${values.join(",")}))`;
}

/** Every user table of `schema` (internal `_` tables left out). */
export async function listPostgresTables(sql: SQL, schema: string): Promise<Set<string>> {
  const rows = (await sql`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p')`) as { name: string }[];
  return new Set(rows.map((r) => r.name).filter((n) => !isReservedTableName(n)));
}

/** Every table of `schema` described, by name (a handful of catalog queries for the whole schema). */
export async function readPostgresTables(sql: SQL, schema: string): Promise<Map<string, LiveTable>> {
  const columns = (await sql`
    SELECT c.relname AS "table", a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS dflt,
           EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p' AND a.attnum = ANY (p.conkey)) AS pk
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum`) as { table: string; name: string; type: string; notnull: boolean; dflt: string | null; pk: boolean }[];
  const checks = (await sql`
    SELECT c.relname AS "table", pg_get_constraintdef(con.oid) AS def
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND con.contype = 'c'
    ORDER BY c.relname, con.conname`) as { table: string; def: string }[];
  const fks = (await sql`
    SELECT t.relname AS "table", a.attname AS "from", f.relname AS target, fa.attname AS "to", con.confdeltype AS on_delete
    FROM pg_constraint con
    JOIN pg_class t ON t.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_class f ON f.oid = con.confrelid
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
    JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[1]
    WHERE n.nspname = ${schema} AND con.contype = 'f'`) as { table: string; from: string; target: string; to: string; on_delete: string }[];
  const indexes = (await sql`
    SELECT t.relname AS "table", i.relname AS name, ix.indisunique AS "unique",
           (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = ${schema} AND NOT ix.indisprimary
    ORDER BY t.relname, i.relname`) as { table: string; name: string; unique: boolean; columns: unknown }[];

  const tables = new Map<string, { columns: LiveColumn[]; checks: string[]; foreignKeys: string[]; indexes: ModelIndex[] }>();
  const entry = (name: string) => {
    let t = tables.get(name);
    if (!t) tables.set(name, (t = { columns: [], checks: [], foreignKeys: [], indexes: [] }));
    return t;
  };
  for (const c of columns) {
    entry(c.table).columns.push({
      name: c.name,
      type: TYPE_WORDS[c.type] ?? c.type.toUpperCase(),
      notNull: c.notnull,
      defaultSql: normalizeDefault(c.dflt),
      primaryKey: c.pk,
    });
  }
  for (const c of checks) entry(c.table).checks.push(normalizeCheck(c.def));
  for (const f of fks) entry(f.table).foreignKeys.push(`${f.from}->${f.target}.${f.to} ON DELETE ${ON_DELETE[f.on_delete] ?? f.on_delete}`);
  for (const i of indexes) {
    const cols = typeof i.columns === "string" ? (JSON.parse(i.columns) as string[]) : ((i.columns as string[] | null) ?? []);
    entry(i.table).indexes.push({ name: i.name, unique: i.unique, columns: cols });
  }
  const out = new Map<string, LiveTable>();
  for (const [name, t] of tables) {
    out.set(name, { name, strict: true, sql: t.checks.join("\n"), columns: t.columns, foreignKeys: t.foreignKeys, indexes: t.indexes });
  }
  return out;
}
