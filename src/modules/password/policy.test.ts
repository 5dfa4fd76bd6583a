import { describe, expect, it } from "bun:test";
import { ApiError } from "../../http/errors.ts";
import { checkPasswordPolicy, type PasswordPolicyDeps } from "./policy.ts";
import { isCommonPassword } from "./common-passwords.ts";

function runtime(password: { minLength: number; maxLength: number; rejectCommon: boolean }): PasswordPolicyDeps {
  return { config: { auth: { password } } };
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof ApiError ? `${e.code}:${e.field}` : "other";
  }
}

describe("checkPasswordPolicy", () => {
  const p = runtime({ minLength: 8, maxLength: 12, rejectCommon: true });
  const cases: [string, unknown, string | null][] = [
    ["a missing password", undefined, "VALIDATION_REQUIRED_FIELD:pw"],
    ["null", null, "VALIDATION_REQUIRED_FIELD:pw"],
    ["a number", 123456789, "VALIDATION_INVALID_FIELD:pw"],
    ["an array", ["abcdefghij"], "VALIDATION_INVALID_FIELD:pw"],
    ["7 characters", "abcdefg", "VALIDATION_WEAK_PASSWORD:pw"],
    ["8 characters", "zq9vlmrt", null],
    ["12 characters", "zq9vlmrtzq9v", null],
    ["13 characters", "zq9vlmrtzq9vx", "VALIDATION_WEAK_PASSWORD:pw"],
    ["12 astral code points (24 UTF-16 units)", "🔑".repeat(12), null],
    ["7 astral code points", "🔑".repeat(7), "VALIDATION_WEAK_PASSWORD:pw"],
    ["a common password", "password1", "VALIDATION_WEAK_PASSWORD:pw"],
    ["a common password in capitals", "QWERTY123", "VALIDATION_WEAK_PASSWORD:pw"],
    ["spaces that count (no trimming)", "  abcdef  ", null],
  ];
  for (const [name, pw, expected] of cases) {
    it(`${expected ? "refuses" : "accepts"} ${name}`, () => {
      expect(codeOf(() => checkPasswordPolicy(p, pw, "pw"))).toBe(expected);
    });
  }

  it("never lets min_length fall below 8", () => {
    expect(codeOf(() => checkPasswordPolicy(runtime({ minLength: 4, maxLength: 128, rejectCommon: false }), "abcdefg", "pw"))).toBe(
      "VALIDATION_WEAK_PASSWORD:pw",
    );
  });

  it("accepts a common password when reject_common is off", () => {
    expect(checkPasswordPolicy(runtime({ minLength: 8, maxLength: 128, rejectCommon: false }), "password1", "pw")).toBe("password1");
  });

  it("returns the password exactly as given", () => {
    expect(checkPasswordPolicy(p, " Zq9vlmrt ", "pw")).toBe(" Zq9vlmrt ");
  });
});

describe("the bundled common-password list", () => {
  it("knows the usual suspects and none of its comment lines", () => {
    for (const pw of ["password", "12345678", "iloveyou", "qwertyuiop", "1q2w3e4r", "football1", "sunshine"]) expect(isCommonPassword(pw)).toBe(true);
    expect(isCommonPassword("# one password per line; lines starting with \"# \" are comments.")).toBe(false);
    expect(isCommonPassword("violet kettle drum")).toBe(false);
  });
});
