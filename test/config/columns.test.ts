import { describe, expect, it } from "bun:test";
import { parseColumn } from "../../src/config/columns.ts";
import type { ColumnDef } from "../../src/config/types.ts";

function column(name: string, raw: unknown, authTable = false): ColumnDef {
  const result = parseColumn(name, raw, { authTable });
  if (!result.ok) throw new Error(`expected ${name} to parse: ${result.errors.join("; ")}`);
  return result.column;
}

function errorsOf(name: string, raw: unknown, authTable = false): string {
  const result = parseColumn(name, raw, { authTable });
  if (result.ok) throw new Error(`expected ${name} to be refused`);
  return result.errors.join("; ");
}

describe("parseColumn: short and long forms agree", () => {
  const PAIRS: readonly (readonly [string, unknown])[] = [
    ["string required max_length 80", { type: "string", required: true, max_length: 80 }],
    ["string", { type: "string" }],
    ["text min_length 2", { type: "text", min_length: 2 }],
    ["bool default false", { type: "bool", default: false }],
    ["int default 5 unique index", { type: "int", default: 5, unique: true, index: true }],
    ["float default 1.5", { type: "float", default: 1.5 }],
    ["date default 2024-02-29", { type: "date", default: "2024-02-29" }],
    ["datetime default now", { type: "datetime", default: "now" }],
    ["timestamp default 1700000000 readonly hidden", { type: "timestamp", default: 1_700_000_000, readonly: true, hidden: true }],
    ["ref users required cascade", { type: "ref", table: "users", required: true, on_delete: "cascade" }],
    ["ref users", { type: "ref", table: "users" }],
    ['json default \'{"a": [1, 2]}\'', { type: "json", default: { a: [1, 2] } }],
    ["uuid default 3F2504E0-4F89-11D3-9A0C-0305E82C3301", { type: "uuid", default: "3f2504e0-4f89-11d3-9a0c-0305e82c3301" }],
    ['string default "hello world"', { type: "string", default: "hello world" }],
  ];
  for (const [short, long] of PAIRS) {
    it(`reads ${JSON.stringify(short)} like its long form`, () => {
      expect(column("c", short)).toStrictEqual(column("c", long));
    });
  }
});

describe("parseColumn: normalized values", () => {
  it("gives a string a max_length of 255 by default", () => {
    expect(column("c", "string").maxLength).toBe(255);
    expect(column("c", "text").maxLength).toBeUndefined();
  });

  it("indexes refs and defaults on_delete to restrict", () => {
    const c = column("owner", "ref users");
    expect(c).toMatchObject({ index: true, refTable: "users", onDelete: "restrict", hasDefault: false });
  });

  it("normalizes datetime defaults to toISOString()", () => {
    expect(column("c", "datetime default 2024-01-31T12:00:00+02:00").default).toBe("2024-01-31T10:00:00.000Z");
    expect(column("c", "datetime default 2024-01-31T12:00Z").default).toBe("2024-01-31T12:00:00.000Z");
    expect(column("c", "datetime default 2024-01-31T12:00:00.123456Z").default).toBe("2024-01-31T12:00:00.123Z");
    expect(column("c", "datetime default 2024-01-31").default).toBe("2024-01-31T00:00:00.000Z");
  });

  it("keeps enum values in order and accepts a default among them", () => {
    const c = column("role", { type: "enum", values: ["user", "admin"], default: "user", readonly: true }, true);
    expect(c).toMatchObject({ values: ["user", "admin"], default: "user", hasDefault: true, readonly: true });
  });

  it("keeps min and max on numeric columns", () => {
    expect(column("c", { type: "int", min: 0, max: 10, default: 3 })).toMatchObject({ min: 0, max: 10, default: 3 });
  });

  it("accepts any JSON value as a long-form json default", () => {
    expect(column("c", { type: "json", default: ["a", { b: true }] }).default).toEqual(["a", { b: true }]);
  });

  it("allows a required readonly column with a default on the auth table", () => {
    expect(column("plan", "string required readonly default free", true).default).toBe("free");
  });
});

describe("parseColumn: refusals", () => {
  const BAD: readonly (readonly [string, unknown, string, boolean?])[] = [
    ["id", "string", "reserved"],
    ["created_at", "string", "reserved"],
    ["rowid", "int", "reserved"],
    ["_secret", "string", "internal"],
    ["Name", "string", "invalid column name"],
    ["first name", "string", "invalid column name"],
    ["x", "strng", 'unknown type "strng"'],
    ["x", "file", "file columns are not supported (no storage yet)"],
    ["x", "enum", "enum needs values"],
    ["x", { type: "enum" }, "non-empty list of values"],
    ["x", { type: "enum", values: [] }, "non-empty list of values"],
    ["x", { type: "enum", values: ["a b"] }, 'enum value "a b" is invalid'],
    ["x", { type: "enum", values: ["a", "a"] }, "listed twice"],
    ["x", { type: "enum", values: ["a"], default: "b" }, "one of the enum values"],
    ["x", "ref", "ref needs a target table"],
    ["x", "ref required", "ref needs a target table"],
    ["x", "ref users required set_null", "set_null cannot be combined with required"],
    ["x", "ref users cascade set_null", "conflicting on-delete"],
    ["x", "string cascade", "applies only to ref columns"],
    ["x", "int default abc", "default must be an integer"],
    ["x", "int default 1.5", "default must be an integer"],
    ["x", "bool default yes", "default must be true or false"],
    ["x", "date default 2023-02-29", "calendar date"],
    ["x", "date default 31/01/2024", "calendar date"],
    ["x", "datetime default 2024-01-31T12:00:00", "time zone"],
    ["x", "timestamp default 1.5", "unix seconds"],
    ["x", "json default {oops}", "not valid JSON"],
    ["x", "uuid default 1234", "UUID"],
    ["x", "string max_length 3 default toolong", "longer than max_length"],
    ["x", "string min_length 5 default abc", "shorter than min_length"],
    ["x", "int max_length 5", "max_length applies only to string and text"],
    ["x", { type: "string", min: 1 }, "min applies only to int, float and timestamp"],
    ["x", { type: "int", min: 5, max: 1 }, "min is greater than max"],
    ["x", { type: "int", min: 0.5 }, "whole number"],
    ["x", { type: "int", max: 10, default: 11 }, "above the column's max"],
    ["x", "string sortable", 'unknown modifier "sortable"'],
    ["x", "string default hello world", 'unknown modifier "world"'],
    ["x", "string default", "default needs a value"],
    ["x", "string max_length", "max_length needs a whole number"],
    ["x", "string required required", "repeated"],
    ["x", 'string default "open', "unterminated quote"],
    ["x", "int min 3", "only available in the long form"],
    ["x", { type: "string", requird: true }, 'unknown key "requird"'],
    ["x", { required: true }, "needs a type"],
    ["x", { type: "string", required: "yes" }, "required must be true or false"],
    ["x", { type: "string", values: ["a"] }, "values applies only to enum"],
    ["x", { type: "int", default: null }, "must not be null"],
    ["x", 42, "a column is a string"],
    ["x", "", "empty column definition"],
    ["email", "string", "reserved on the auth table", true],
    ["password", "string", "reserved on the auth table", true],
    ["password_x", "string", "reserved on the auth table", true],
    ["reset_x", "string", "reserved on the auth table", true],
    ["verification_x", "string", "reserved on the auth table", true],
    ["role", { type: "string", required: true, readonly: true }, "needs a default", true],
  ];
  for (const [name, raw, fragment, authTable] of BAD) {
    it(`refuses ${name}: ${JSON.stringify(raw)} (${fragment})`, () => {
      expect(errorsOf(name, raw, authTable ?? false)).toContain(fragment);
    });
  }

  it("allows auth-reserved names on other tables", () => {
    expect(column("email", "string").name).toBe("email");
    expect(column("reset_at", "datetime").name).toBe("reset_at");
  });

  it("reports every problem of a column at once", () => {
    const result = parseColumn("Bad", "int max_length 3 default x", { authTable: false });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.length).toBe(3);
  });
});
