import { describe, expect, it } from "bun:test";
import { createHmac } from "node:crypto";
import { defaultRandomBytes, randomToken, SECRET_TOKEN_BYTES, toBase64Url, TOKEN_TEXT_PATTERN } from "./random.ts";

describe("secret token text", () => {
  const exact = new RegExp(`^${TOKEN_TEXT_PATTERN}$`);

  it("matches every random token and every HMAC-SHA256 of one, and nothing a byte shorter or longer", () => {
    for (let i = 0; i < 200; i++) {
      const token = randomToken(defaultRandomBytes);
      expect(token).toMatch(exact);
      expect(toBase64Url(new Uint8Array(createHmac("sha256", "k").update(token).digest()))).toMatch(exact);
    }
    expect(randomToken(defaultRandomBytes, SECRET_TOKEN_BYTES - 1)).not.toMatch(exact);
    expect(randomToken(defaultRandomBytes, SECRET_TOKEN_BYTES + 1)).not.toMatch(exact);
    expect(SECRET_TOKEN_BYTES).toBeGreaterThanOrEqual(32);
  });
});
