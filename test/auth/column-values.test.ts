/**
 * One set of column-type rules for project-file defaults, request values and the schema
 * (issue 8, item 23): strict dates and date-times, and the same stored value whichever way it came.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, PASSWORD, dbOf } from "../helpers/auth.ts";
import { parseColumn } from "../../src/config/columns.ts";

const DECLARED = "2024-02-29T10:00:00+02:00";
let inst: TestInstance;
beforeAll(async () => {
  inst = await createTestInstance([
    authSpec({
      columns: {
        seen_at: "datetime",
        born_on: "date",
        launched_at: { type: "datetime", default: DECLARED },
      },
    }),
  ]);
});
afterAll(async () => {
  await inst.close();
});

let n = 0;
const signup = (fields: Record<string, unknown>) => inst.req("POST", "/p/demo/auth/signup", { body: { email: `u${++n}@example.com`, password: PASSWORD, ...fields } });

describe("datetime request values", () => {
  const impossible = [
    "2023-02-29T10:00Z",
    "2023-02-29T10:00:00Z",
    "2023-04-31T00:00:00Z",
    "2023-13-01T00:00:00Z",
    "2023-00-10T00:00:00Z",
    "2023-01-10T24:00:00Z",
    "2023-01-10T23:60:00Z",
    "2023-01-10T23:59:60Z",
    "2023-01-10T10:00:00+24:00",
    "2023-01-10T10:00:00+01:60",
  ];
  for (const value of impossible) {
    it(`refuses ${value} with 400 instead of rewriting it`, async () => {
      const before = (dbOf(inst).query("SELECT count(*) AS c FROM users").get() as { c: number }).c;
      const r = await signup({ seen_at: value });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: "VALIDATION_INVALID_FIELD", field: "seen_at" });
      expect((dbOf(inst).query("SELECT count(*) AS c FROM users").get() as { c: number }).c).toBe(before);
    });
  }

  it("stores a real date-time normalized to UTC", async () => {
    const cases: [string, string][] = [
      ["2024-02-29T10:00Z", "2024-02-29T10:00:00.000Z"],
      ["2024-02-29T01:30:00+02:00", "2024-02-28T23:30:00.000Z"],
      ["2023-12-31T23:59:59.123456789-01:00", "2024-01-01T00:59:59.123Z"],
      ["0050-06-01T00:00:00Z", "0050-06-01T00:00:00.000Z"],
    ];
    for (const [given, stored] of cases) {
      const r = await signup({ seen_at: given });
      expect(r.status).toBe(201);
      expect(r.body.data.user.seen_at).toBe(stored);
      const row = dbOf(inst).query("SELECT seen_at FROM users WHERE id = ?").get(r.body.data.user.id) as { seen_at: string };
      expect(row.seen_at).toBe(stored);
    }
  });

  it("stores a request value exactly as the same text declared as a default is stored", async () => {
    const viaDefault = await signup({});
    const viaRequest = await signup({ launched_at: DECLARED });
    expect(viaDefault.body.data.user.launched_at).toBe("2024-02-29T08:00:00.000Z");
    expect(viaRequest.body.data.user.launched_at).toBe(viaDefault.body.data.user.launched_at);
  });
});

describe("dates", () => {
  it("accepts the same calendar days in requests and in defaults, for any four-digit year", async () => {
    for (const day of ["2024-02-29", "0050-01-31", "9999-12-31", "2023-02-29", "2023-04-31", "2023-02-30"]) {
      const fromFile = parseColumn("d", `date default ${day}`, { authTable: false }).ok;
      const r = await signup({ born_on: day });
      expect({ day, request: r.status === 201 }).toEqual({ day, request: fromFile });
      if (r.status === 201) expect(r.body.data.user.born_on).toBe(day);
    }
  });

  it("refuses impossible datetime defaults in a project file like impossible request values", () => {
    for (const v of ["2023-02-29T10:00Z", "2023-01-10T24:00:00Z", "2023-02-29"]) {
      expect(parseColumn("d", { type: "datetime", default: v }, { authTable: false }).ok).toBe(false);
    }
    expect(parseColumn("d", { type: "datetime", default: "2024-02-29" }, { authTable: false })).toMatchObject({ ok: true, column: { default: "2024-02-29T00:00:00.000Z" } });
  });
});
