import { describe, expect, it } from "bun:test";
import { parseDurationSeconds } from "../../src/config/duration.ts";

describe("parseDurationSeconds", () => {
  const GOOD: readonly (readonly [unknown, number])[] = [
    ["30s", 30], ["15m", 900], ["1h", 3600], ["30d", 2_592_000], ["0s", 0],
    [45, 45], ["45", 45], [0, 0], ["3650d", 315_360_000],
  ];
  for (const [raw, seconds] of GOOD) {
    it(`reads ${JSON.stringify(raw)} as ${seconds} seconds`, () => {
      expect(parseDurationSeconds(raw)).toEqual({ ok: true, seconds });
    });
  }

  const BAD: readonly unknown[] = [
    "15 minutes", "1.5h", "1H", "-5s", -5, 1.5, "", " 15m", "15m ", "1w", "h", "015m", "1e3",
    null, undefined, true, {}, [], "3651d", Number.NaN, Number.POSITIVE_INFINITY,
  ];
  for (const raw of BAD) {
    it(`refuses ${JSON.stringify(raw) ?? String(raw)}`, () => {
      const result = parseDurationSeconds(raw);
      expect(result.ok).toBe(false);
    });
  }

  it("does not echo the input in its reason", () => {
    const result = parseDurationSeconds("secret-value");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).not.toContain("secret-value");
  });
});
