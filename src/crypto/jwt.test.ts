import { describe, expect, it } from "bun:test";
import { createHmac } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import { signJwt, verifyJwt, type AccessClaims } from "./jwt.ts";

const secret = new Uint8Array(32).fill(7);
const now = 1_700_000_000_000;
const claims: AccessClaims = {
  sub: "u1", aud: "demo", iss: "http://localhost/p/demo", iat: now / 1000, exp: now / 1000 + 60,
  sid: "s1", pv: 1, email: "a@b.io", email_verified: false,
};
const expect_ = { aud: "demo", iss: "http://localhost/p/demo", nowMs: now };

function forge(header: object, payload: object, alg = "sha256", key: Uint8Array = secret): string {
  const h = Buffer.from(JSON.stringify(header)).toString("base64url");
  const p = Buffer.from(JSON.stringify(payload)).toString("base64url");
  const sig = createHmac(alg, key).update(`${h}.${p}`).digest("base64url");
  return `${h}.${p}.${sig}`;
}

describe("jwt", () => {
  it("round-trips a signed token", () => {
    const r = verifyJwt(signJwt(claims, secret), secret, expect_);
    expect(r).toEqual({ ok: true, claims });
  });
  it("refuses a token once exp is reached, with no leeway", () => {
    const t = signJwt(claims, secret);
    expect(verifyJwt(t, secret, { ...expect_, nowMs: claims.exp * 1000 })).toEqual({ ok: false, reason: "expired" });
    expect(verifyJwt(t, secret, { ...expect_, nowMs: claims.exp * 1000 - 1 }).ok).toBe(true);
  });
  it("refuses alg none, HS512 and other headers", () => {
    for (const alg of ["none", "NONE", "nOnE", "HS384"]) {
      const h = Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url");
      const p = Buffer.from(JSON.stringify(claims)).toString("base64url");
      expect(verifyJwt(`${h}.${p}.`, secret, expect_)).toEqual({ ok: false, reason: "invalid" });
    }
    expect(verifyJwt(forge({ alg: "HS512", typ: "JWT" }, claims, "sha512"), secret, expect_).ok).toBe(false);
    expect(verifyJwt(forge({ typ: "JWT", alg: "HS256" }, claims), secret, expect_).ok).toBe(false);
  });
  it("refuses tampered payloads, flipped signatures, wrong secrets and wrong audiences", () => {
    const t = signJwt(claims, secret);
    const [h, , s] = t.split(".");
    const p2 = Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url");
    expect(verifyJwt(`${h}.${p2}.${s}`, secret, expect_).ok).toBe(false);
    for (let i = 0; i < s.length; i++) {
      const c = s[i] === "A" ? "B" : "A";
      expect(verifyJwt(`${t.slice(0, t.length - s.length)}${s.slice(0, i)}${c}${s.slice(i + 1)}`, secret, expect_).ok).toBe(false);
    }
    expect(verifyJwt(t, new Uint8Array(32).fill(8), expect_).ok).toBe(false);
    expect(verifyJwt(t, secret, { ...expect_, aud: "other" }).ok).toBe(false);
    expect(verifyJwt(t, secret, { ...expect_, iss: "http://evil" }).ok).toBe(false);
  });
  it("refuses a token without exp and garbage strings", () => {
    const { exp: _exp, ...noExp } = claims;
    expect(verifyJwt(forge({ alg: "HS256", typ: "JWT" }, noExp), secret, expect_).ok).toBe(false);
    for (const g of ["", ".", "..", "a.b.c", "rt_abc", "a.b.c.d", signJwt(claims, secret) + "."]) {
      expect(verifyJwt(g, secret, expect_).ok).toBe(false);
    }
  });
});

describe("known-answer vector, checked by jose", () => {
  // Fixed inputs and the token they must produce in every version; jose (an independent
  // implementation) must accept it, and our verifier must accept what jose signs.
  const secret = new Uint8Array(32).map((_, i) => i + 1);
  const claims: AccessClaims = {
    sub: "3f1c1e52-8a4b-4c1e-9a43-5b1f3e0b7c11",
    aud: "demo",
    iss: "https://auth.example.com/p/demo",
    iat: 1767225600,
    exp: 1767229200,
    sid: "0b7f8e2a-4d3c-4b5a-8e6f-1a2b3c4d5e6f",
    pv: 1,
    email: "ann@example.com",
    email_verified: true,
  };
  const FIXED =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
    "eyJzdWIiOiIzZjFjMWU1Mi04YTRiLTRjMWUtOWE0My01YjFmM2UwYjdjMTEiLCJhdWQiOiJkZW1vIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tL3AvZGVtbyIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI5MjAwLCJzaWQiOiIwYjdmOGUyYS00ZDNjLTRiNWEtOGU2Zi0xYTJiM2M0ZDVlNmYiLCJwdiI6MSwiZW1haWwiOiJhbm5AZXhhbXBsZS5jb20iLCJlbWFpbF92ZXJpZmllZCI6dHJ1ZX0." +
    "23BX2Rz8JnQDGZNO19-rrpKnIU2GlRJDdnGVZeuHk4g";
  const during = new Date((claims.iat + 60) * 1000);

  it("signs the fixed claims into the fixed token", () => {
    expect(signJwt(claims, secret)).toBe(FIXED);
  });

  it("is accepted by jose with the same secret, audience and issuer", async () => {
    const { payload, protectedHeader } = await jwtVerify(FIXED, secret, {
      algorithms: ["HS256"],
      audience: "demo",
      issuer: claims.iss,
      currentDate: during,
    });
    expect(protectedHeader).toEqual({ alg: "HS256", typ: "JWT" });
    expect(payload).toEqual({ ...claims });
  });

  it("is refused by jose under another secret", async () => {
    const other = new Uint8Array(32).fill(7);
    await expect(jwtVerify(FIXED, other, { algorithms: ["HS256"], currentDate: during })).rejects.toThrow();
  });

  it("accepts a token jose signed with the same header and claims", async () => {
    const fromJose = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
    const r = verifyJwt(fromJose, secret, { aud: "demo", iss: claims.iss, nowMs: during.getTime() });
    expect(r).toEqual({ ok: true, claims });
  });
});
