import { describe, expect, it } from "bun:test";
import { interpolateEnv } from "../../src/config/interpolate.ts";

describe("interpolateEnv", () => {
  it("replaces ${NAME} in string values at any depth", () => {
    const result = interpolateEnv({ a: "x-${A}-y", list: ["${B}"], deep: { c: "${A}${B}" } }, { A: "1", B: "2" });
    expect(result.value).toEqual({ a: "x-1-y", list: ["2"], deep: { c: "12" } });
    expect(result.issues).toEqual([]);
    expect([...result.envValues].sort()).toEqual(["1", "2"]);
  });

  it("uses the default when the variable is unset or empty", () => {
    const result = interpolateEnv({ a: "${MISSING:-fallback}", b: "${EMPTY:-d}", c: "${EMPTY}" }, { EMPTY: "" });
    expect(result.value).toEqual({ a: "fallback", b: "d", c: "" });
    expect(result.issues).toEqual([]);
  });

  it("allows an empty default and defaults with spaces and colons", () => {
    const result = interpolateEnv({ a: "${X:-}", b: "${X:-smtp://h:25}" }, {});
    expect(result.value).toEqual({ a: "", b: "smtp://h:25" });
  });

  it("reports a missing variable with its name and key path", () => {
    const result = interpolateEnv({ keys: { admin: "${DEMO_ADMIN_KEY}" } }, {});
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0].path).toBe("keys.admin");
    expect(result.issues[0].message).toContain("DEMO_ADMIN_KEY");
    expect(result.failedPaths).toEqual(["keys.admin"]);
  });

  it("reports list items by index", () => {
    const result = interpolateEnv({ origins: ["https://a.com", "${ORIGIN}"] }, {});
    expect(result.issues.map((i) => i.path)).toEqual(["origins.1"]);
  });

  it("leaves keys, numbers and booleans alone", () => {
    const result = interpolateEnv({ "${KEY}": 5, b: true, n: null }, { KEY: "k" });
    expect(result.value).toEqual({ "${KEY}": 5, b: true, n: null });
  });

  it("turns $${ into a literal ${", () => {
    const result = interpolateEnv({ a: "$${HOME} and $$ stays" }, { HOME: "/root" });
    expect(result.value).toEqual({ a: "${HOME} and $$ stays" });
  });

  it("reports malformed and unterminated references", () => {
    const result = interpolateEnv({ a: "${not valid}", b: "${OPEN" }, {});
    expect(result.issues.map((i) => i.path)).toEqual(["a", "b"]);
  });

  it("keeps a key named __proto__ as a plain key", () => {
    const raw = JSON.parse('{"__proto__": {"polluted": "${X:-yes}"}}') as unknown;
    const result = interpolateEnv(raw, {});
    const out = result.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
