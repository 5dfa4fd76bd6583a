import { describe, expect, it } from "bun:test";
import { parseEmail } from "./email.ts";

describe("parseEmail (SPEC 9.1)", () => {
  const valid: [string, string, string][] = [
    ["a@x.io", "a@x.io", "a@x.io"],
    ["  Ann.Lee+tag@Example.COM \t", "Ann.Lee+tag@Example.COM", "ann.lee+tag@example.com"],
    ["o'brien@sub.example-mail.co.uk", "o'brien@sub.example-mail.co.uk", "o'brien@sub.example-mail.co.uk"],
    [`${"l".repeat(64)}@x.io`, `${"l".repeat(64)}@x.io`, `${"l".repeat(64)}@x.io`],
    [`a@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.${"g".repeat(58)}`, `a@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.${"g".repeat(58)}`, `a@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.${"g".repeat(58)}`],
  ];
  for (const [raw, email, canonical] of valid) {
    it(`accepts ${JSON.stringify(raw.slice(0, 40))}`, () => {
      expect(parseEmail(raw)).toEqual({ ok: true, email, canonical });
    });
  }

  const invalid: [string, unknown][] = [
    ["a number", 42],
    ["null", null],
    ["an empty string", ""],
    ["only spaces", "   "],
    ["no @", "ax.io"],
    ["two @", "a@b@x.io"],
    ["an empty local part", "@x.io"],
    ["a domain without a dot", "a@localhost"],
    ["an empty domain label", "a@x..io"],
    ["a trailing dot in the domain", "a@x.io."],
    ["a leading dot in the domain", "a@.x.io"],
    ["an underscore in the domain", "a@x_y.io"],
    ["a label starting with a hyphen", "a@-x.io"],
    ["a quoted local part", '"a"@x.io'],
    ["a comment", "a(comment)@x.io"],
    ["a comma", "a,b@x.io"],
    ["a space inside", "a b@x.io"],
    ["square brackets", "a@[127.0.0.1]"],
    ["angle brackets", "<a@x.io>"],
    ["a backslash", "a\\b@x.io"],
    ["a non-ASCII local part", "jos\u00e9@x.io"],
    ["a non-ASCII domain", "a@b\u00fccher.de"],
    ["a control character", "a\u0001@x.io"],
    ["a leading dot in the local part", ".a@x.io"],
    ["two dots in the local part", "a..b@x.io"],
    ["a 65-character local part", `${"l".repeat(65)}@x.io`],
    ["255 characters", `a@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.${"g".repeat(61)}`],
  ];
  for (const [name, raw] of invalid) {
    it(`refuses ${name}`, () => {
      expect(parseEmail(raw)).toEqual({ ok: false });
    });
  }
});
