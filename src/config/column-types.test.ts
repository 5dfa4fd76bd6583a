import { describe, expect, it } from "bun:test";
import { COLUMN_TYPES } from "./types.ts";
import { isCalendarDate, nowValueOf, parseDatetimeMs, readColumnValue, sqlTypeOf, storeColumnValue } from "./column-types.ts";

describe("column types", () => {
  it("has one SQL type per column type", () => {
    expect(Object.fromEntries(COLUMN_TYPES.map((t) => [t, sqlTypeOf(t)]))).toEqual({
      string: "TEXT", text: "TEXT", int: "INTEGER", float: "REAL", bool: "INTEGER", date: "TEXT", datetime: "TEXT",
      timestamp: "INTEGER", json: "TEXT", enum: "TEXT", ref: "TEXT", uuid: "TEXT",
    });
  });

  it("reads back what it stores", () => {
    const samples: [(typeof COLUMN_TYPES)[number], unknown][] = [
      ["bool", true], ["bool", false], ["json", { a: [1, "x", null] }], ["int", -7], ["float", 1.5],
      ["date", "2024-02-29"], ["datetime", "2024-02-29T10:00:00.000Z"], ["string", "héllo"], ["uuid", "0b0e8f9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"],
    ];
    for (const [type, value] of samples) {
      const stored = storeColumnValue({ type }, value);
      expect(stored.ok).toBe(true);
      if (stored.ok) expect(readColumnValue(type, stored.value)).toEqual(value);
    }
  });

  it("knows which days and instants exist", () => {
    expect(isCalendarDate("2000-02-29")).toBe(true);
    expect(isCalendarDate("1900-02-29")).toBe(false);
    expect(isCalendarDate("0004-02-29")).toBe(true);
    expect(isCalendarDate("0001-02-29")).toBe(false);
    expect(parseDatetimeMs("1970-01-01T00:00Z")).toBe(0);
    expect(parseDatetimeMs("1970-01-01T01:00+01:00")).toBe(0);
    expect(parseDatetimeMs("1970-01-01T00:00:00.999999Z")).toBe(999);
    expect(parseDatetimeMs("1970-01-01T00:00:00")).toBeNull();
    expect(parseDatetimeMs("2023-02-29T00:00Z")).toBeNull();
  });

  it("gives `now` for the time types only", () => {
    const ms = Date.UTC(2026, 0, 15, 12, 30, 45, 678);
    expect(nowValueOf("timestamp", ms)).toBe(Math.floor(ms / 1000));
    expect(nowValueOf("date", ms)).toBe("2026-01-15");
    expect(nowValueOf("datetime", ms)).toBe("2026-01-15T12:30:45.678Z");
    expect(nowValueOf("string", ms)).toBeNull();
  });
});
