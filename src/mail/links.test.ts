import { describe, expect, it } from "bun:test";
import { withQueryParam } from "./links.ts";

describe("withQueryParam", () => {
  const cases: [string, string][] = [
    ["https://a.io/reset", "https://a.io/reset?token=T"],
    ["https://a.io/", "https://a.io/?token=T"],
    ["https://a.io/r?x=1", "https://a.io/r?x=1&token=T"],
    ["https://a.io/r?x=a%20b&y=c+d", "https://a.io/r?x=a%20b&y=c+d&token=T"],
    ["https://a.io/r?token=evil&x=1", "https://a.io/r?x=1&token=T"],
    ["https://a.io/r?to%6Ben=evil", "https://a.io/r?token=T"],
    ["https://a.io/r?x=1#frag", "https://a.io/r?x=1&token=T#frag"],
    ["https://a.io/r?#f", "https://a.io/r?token=T#f"],
    ["https://a.io/r?flag", "https://a.io/r?flag&token=T"],
  ];
  for (const [input, expected] of cases) {
    it(`turns ${input} into ${expected}`, () => {
      expect(withQueryParam(input, "token", "T")).toBe(expected);
    });
  }
});
