import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, dbOf, decodeJwtPayload, expectError, runtimeOf, signUp, type Session } from "../helpers/auth.ts";
import { deriveKey } from "../../src/crypto/digest.ts";
import { unseal } from "../../src/crypto/seal.ts";

const ISSUER = "http://127.0.0.1:8080/p/demo";

async function jwksOf(inst: TestInstance, project = "demo"): Promise<JSONWebKeySet> {
  const r = await inst.req("GET", `/p/${project}/.well-known/jwks.json`);
  expect(r.status).toBe(200);
  return r.body as JSONWebKeySet;
}

for (const alg of ["EdDSA", "ES256"] as const) {
  describe(`${alg} access tokens`, () => {
    let inst: TestInstance;
    let s: Session;
    beforeAll(async () => {
      inst = await createTestInstance([authSpec({ auth: { access_token_ttl: "15m", signing: { algorithm: alg } } })]);
      s = await signUp(inst, "ada@example.com");
    });
    afterAll(() => inst.close());

    it("names its key in the header and verifies with jose against the published JWKS", async () => {
      const header = decodeProtectedHeader(s.token);
      expect(Object.keys(header).sort()).toEqual(["alg", "kid", "typ"]);
      expect(header.alg).toBe(alg);
      const jwks = await jwksOf(inst);
      expect(jwks.keys.map((k) => k.kid)).toEqual([header.kid!]);
      const { payload } = await jwtVerify(s.token, createLocalJWKSet(jwks), {
        issuer: ISSUER,
        audience: "demo",
        algorithms: [alg],
        currentDate: new Date(inst.clock.now),
      });
      expect(payload.sub).toBe(s.user.id);
      expect(payload.email).toBe("ada@example.com");
    });

    it("publishes RFC 7517 keys with kid, alg and use, cacheable for 5 minutes, and no private part", async () => {
      const r = await inst.req("GET", "/p/demo/.well-known/jwks.json");
      expect(r.headers.get("cache-control")).toBe("public, max-age=300");
      expect(r.headers.get("content-type")).toContain("application/json");
      const [k] = (r.body as JSONWebKeySet).keys;
      expect(k.kid).toBe(decodeProtectedHeader(s.token).kid!);
      expect({ alg: k.alg, use: k.use, kty: k.kty, crv: k.crv }).toEqual({ alg, use: "sig", kty: alg === "EdDSA" ? "OKP" : "EC", crv: alg === "EdDSA" ? "Ed25519" : "P-256" });
      expect(k).not.toHaveProperty("d");
      // The kid is the RFC 7638 thumbprint, so anyone can recompute it from the key.
      expect(await calculateJwkThumbprint(k)).toBe(k.kid!);
    });

    it("answers the discovery document with the tokens' issuer and the JWKS URL", async () => {
      const r = await inst.req("GET", "/p/demo/.well-known/openid-configuration");
      expect(r.status).toBe(200);
      expect(r.headers.get("cache-control")).toBe("public, max-age=300");
      expect(r.body).toEqual({ issuer: ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks.json` });
      expect(decodeJwtPayload(s.token).iss).toBe(r.body.issuer);
    });

    it("is accepted by /auth/me and refused once a byte of the signature changes", async () => {
      expect((await inst.req("GET", "/p/demo/auth/me", { token: s.token })).status).toBe(200);
      const sig = s.token.slice(s.token.lastIndexOf(".") + 1);
      const flipped = sig[10] === "A" ? "B" : "A";
      const bad = `${s.token.slice(0, s.token.lastIndexOf(".") + 1)}${sig.slice(0, 10)}${flipped}${sig.slice(11)}`;
      expectError(await inst.req("GET", "/p/demo/auth/me", { token: bad }), 401, "AUTH_INVALID_TOKEN");
    });

    it("stores the private key only sealed with the server key", async () => {
      const rows = dbOf(inst).query("SELECT kid, alg, private_enc FROM _signing_keys").all() as { kid: string; alg: string; private_enc: Uint8Array }[];
      expect(rows).toHaveLength(1);
      expect(rows[0].alg).toBe(alg);
      // The stored bytes are no private key...
      expect(() => createPrivateKey({ key: Buffer.from(rows[0].private_enc), format: "der", type: "pkcs8" })).toThrow();
      // ...but open with the server key into the key whose public half is published.
      const pkcs8 = unseal(deriveKey(new Uint8Array(32).fill(42), "signing-key-seal"), rows[0].private_enc, `signing-key:demo:${rows[0].kid}`);
      const pub = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" })).export({ format: "jwk" });
      const published = (await jwksOf(inst)).keys.find((k) => k.kid === rows[0].kid);
      expect(published?.x).toBeString();
      expect(pub.x).toBe(published!.x!);
    });

    it("reports no algorithm change at a new project's first boot", () => {
      expect(inst.logs.filter((l) => l.includes("signing_algorithm_changed"))).toEqual([]);
    });

    it("keeps the key across a restart: tokens stay valid and the JWKS is unchanged", async () => {
      const before = await jwksOf(inst);
      await inst.restart();
      expect(await jwksOf(inst)).toEqual(before);
      expect((await inst.req("GET", "/p/demo/auth/me", { token: s.token })).status).toBe(200);
    });
  });
}

describe("HS256 (the default)", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec()]);
  });
  afterAll(() => inst.close());

  it("publishes an empty key set and the discovery document", async () => {
    expect(await jwksOf(inst)).toEqual({ keys: [] });
    const r = await inst.req("GET", "/p/demo/.well-known/openid-configuration");
    expect(r.body).toEqual({ issuer: ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks.json` });
  });

  it("answers 404 for the well-known documents of an unknown project or a project without auth table", async () => {
    expectError(await inst.req("GET", "/p/nope/.well-known/jwks.json"), 404, "PROJECT_NOT_FOUND");
    const plain = await createTestInstance([{ id: "plain", tables: { notes: { columns: { body: "text" } } } }]);
    try {
      expectError(await plain.req("GET", "/p/plain/.well-known/jwks.json"), 404, "AUTH_NOT_ENABLED");
    } finally {
      await plain.close();
    }
  });
});

describe("switching a project's algorithm in its file", () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await createTestInstance([authSpec()]);
  });
  afterAll(() => inst.close());

  const me = (token: string) => inst.req("GET", "/p/demo/auth/me", { token });
  const refresh = async (rt: string): Promise<Session> => {
    const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: rt } });
    expect(r.status).toBe(200);
    return r.body.data as Session;
  };

  it("refuses the old algorithm's tokens, lets clients recover by refreshing, and never brings old tokens back", async () => {
    const hs = await signUp(inst, "switch@example.com");
    expect(decodeProtectedHeader(hs.token).alg).toBe("HS256");

    await inst.restart([authSpec({ auth: { signing: { algorithm: "EdDSA" } } })]);
    expectError(await me(hs.token), 401, "AUTH_INVALID_TOKEN");
    const ed = await refresh(hs.refresh_token);
    expect(decodeProtectedHeader(ed.token).alg).toBe("EdDSA");
    expect((await me(ed.token)).status).toBe(200);
    expect(inst.logs.some((l) => l.includes('"signing_algorithm_changed"') && l.includes('"to":"EdDSA"'))).toBe(true);

    await inst.restart([authSpec({ auth: { signing: { algorithm: "ES256" } } })]);
    expectError(await me(ed.token), 401, "AUTH_INVALID_TOKEN");
    const es = await refresh(ed.refresh_token);
    expect(decodeProtectedHeader(es.token).alg).toBe("ES256");
    expect((await jwksOf(inst)).keys.map((k) => k.alg)).toEqual(["ES256"]);

    await inst.restart([authSpec()]);
    expectError(await me(es.token), 401, "AUTH_INVALID_TOKEN");
    // The HS256 token from before the first switch has not expired, yet stays refused: its secret was retired.
    expectError(await me(hs.token), 401, "AUTH_INVALID_TOKEN");
    expect(await jwksOf(inst)).toEqual({ keys: [] });
    const back = await refresh(es.refresh_token);
    expect(decodeProtectedHeader(back.token).alg).toBe("HS256");
    expect((await me(back.token)).status).toBe(200);

    await inst.restart([authSpec({ auth: { signing: { algorithm: "EdDSA" } } })]);
    // Back on EdDSA: the earlier EdDSA key is gone, so its tokens stay dead too.
    expectError(await me(ed.token), 401, "AUTH_INVALID_TOKEN");
    expect((await jwksOf(inst)).keys.map((k) => k.kid)).not.toContain(decodeProtectedHeader(ed.token).kid);
  });
});
