/**
 * Forged and confused tokens against EdDSA, ES256 and HS256 projects (SPEC 7.1, 13): every one is
 * answered 401 AUTH_INVALID_TOKEN by /auth/me and /auth/forward — never 500. A control token with
 * the same claims, signed with the project's real key, is accepted, so each refusal is due to the
 * attack and not to the claims.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { SignJWT, exportJWK } from "jose";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, b64url, decodeJwtPayload, expectError, dbOf, signUp } from "../helpers/auth.ts";
import { deriveKey } from "../../src/crypto/digest.ts";
import { unseal } from "../../src/crypto/seal.ts";

const SERVER_KEY = new Uint8Array(32).fill(42);

interface ProjectKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The project's current signing key, opened from its database as only the server could. */
function projectKey(inst: TestInstance, project: string): ProjectKey {
  const row = dbOf(inst, project).query("SELECT kid, private_enc FROM _signing_keys").get() as { kid: string; private_enc: Uint8Array };
  const pkcs8 = unseal(deriveKey(SERVER_KEY, "signing-key-seal"), row.private_enc, `signing-key:${project}:${row.kid}`);
  const privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  return { kid: row.kid, privateKey, publicKey: createPublicKey(privateKey) };
}

/** A compact JWS with any header, signed by `signer` over the exact header and payload text. */
function raw(header: Record<string, unknown>, payload: Record<string, unknown>, signer: (data: Buffer) => Buffer | string): string {
  const body = `${b64url(header)}.${b64url(payload)}`;
  const sig = signer(Buffer.from(body));
  return `${body}.${typeof sig === "string" ? sig : sig.toString("base64url")}`;
}
const ed = (k: KeyObject) => (d: Buffer) => sign(null, d, k);
const es = (k: KeyObject, dsaEncoding: "ieee-p1363" | "der" = "ieee-p1363") => (d: Buffer) => sign("sha256", d, { key: k, dsaEncoding });
const hmac = (secret: Buffer | string) => (d: Buffer) => createHmac("sha256", secret).update(d).digest();

describe("forged tokens answer 401, never 500", () => {
  let inst: TestInstance;
  const claims: Record<string, Record<string, unknown>> = {};
  const keys: Record<string, ProjectKey> = {};
  const tokens: Record<string, string> = {};
  const attackerEd = generateKeyPairSync("ed25519");
  const attackerEs = generateKeyPairSync("ec", { namedCurve: "P-256" });

  beforeAll(async () => {
    inst = await createTestInstance([
      authSpec({ id: "demo", auth: { signing: { algorithm: "EdDSA" } } }),
      authSpec({ id: "other", auth: { signing: { algorithm: "EdDSA" } } }),
      authSpec({ id: "es", auth: { signing: { algorithm: "ES256" } } }),
      authSpec({ id: "hs" }),
    ]);
    for (const id of ["demo", "other", "es", "hs"]) {
      const s = await signUp(inst, `victim@example.com`, { project: id });
      tokens[id] = s.token;
      claims[id] = decodeJwtPayload(s.token);
      if (id !== "hs") keys[id] = projectKey(inst, id);
    }
  });
  afterAll(() => inst.close());

  const refused = async (project: string, token: string): Promise<void> => {
    for (const path of ["auth/me", "auth/forward"]) {
      const r = await inst.req("GET", `/p/${project}/${path}`, { token });
      expectError(r, 401, "AUTH_INVALID_TOKEN");
    }
  };

  it("accepts the control tokens: the same claims signed with each project's real key", async () => {
    const d = keys.demo;
    for (const t of [
      tokens.demo,
      raw({ alg: "EdDSA", typ: "JWT", kid: d.kid }, claims.demo, ed(d.privateKey)),
      await new SignJWT(claims.demo).setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: d.kid }).sign(d.privateKey),
    ]) {
      expect((await inst.req("GET", "/p/demo/auth/me", { token: t })).status).toBe(200);
    }
    const e = keys.es;
    expect((await inst.req("GET", "/p/es/auth/me", { token: raw({ alg: "ES256", typ: "JWT", kid: e.kid }, claims.es, es(e.privateKey)) })).status).toBe(200);
  });

  const cases: [string, string, () => Promise<string> | string][] = [
    ["a token of another project (its kid, its audience)", "demo", () => tokens.other],
    ["our claims signed with another project's key under its kid", "demo", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: keys.other.kid }, claims.demo, ed(keys.other.privateKey))],
    ["our claims signed with another project's key under our kid", "demo", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: keys.demo.kid }, claims.demo, ed(keys.other.privateKey))],
    ["an unknown kid", "demo", () => raw({ alg: "EdDSA", typ: "JWT", kid: "attacker-key-1" }, claims.demo, ed(attackerEd.privateKey))],
    ["no kid", "demo", () => raw({ alg: "EdDSA", typ: "JWT" }, claims.demo, ed(keys.demo.privateKey))],
    ["a jwk header carrying the attacker's key", "demo", async () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: keys.demo.kid, jwk: await exportJWK(attackerEd.publicKey) }, claims.demo, ed(attackerEd.privateKey))],
    ["a jku header pointing at the attacker's JWKS", "demo", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: "evil", jku: "http://127.0.0.1:9/jwks.json" }, claims.demo, ed(attackerEd.privateKey))],
    ["a x5u header pointing at the attacker's certificate", "demo", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: "evil", x5u: "http://127.0.0.1:9/cert.pem" }, claims.demo, ed(attackerEd.privateKey))],
    ["a jku header added to a header the real key signed", "demo", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: keys.demo.kid, jku: "http://127.0.0.1:9/jwks.json" }, claims.demo, ed(keys.demo.privateKey))],
    ["a crit header", "demo", () => raw({ alg: "EdDSA", typ: "JWT", kid: keys.demo.kid, crit: ["exp"] }, claims.demo, ed(keys.demo.privateKey))],
    ["the same header with other key order", "demo", () => raw({ kid: keys.demo.kid, alg: "EdDSA", typ: "JWT" }, claims.demo, ed(keys.demo.privateKey))],
    ["alg none under our kid", "demo", () => raw({ alg: "none", typ: "JWT", kid: keys.demo.kid }, claims.demo, () => "")],
    ["HS256 keyed with our public JWK text", "demo", async () =>
      raw({ alg: "HS256", typ: "JWT", kid: keys.demo.kid }, claims.demo, hmac(JSON.stringify(await exportJWK(keys.demo.publicKey))))],
    ["HS256 keyed with our raw public key bytes", "demo", () =>
      raw({ alg: "HS256", typ: "JWT", kid: keys.demo.kid }, claims.demo, hmac(Buffer.from(keys.demo.publicKey.export({ format: "jwk" }).x!, "base64url")))],
    ["HS256 keyed with our public key PEM", "demo", () =>
      raw({ alg: "HS256", typ: "JWT", kid: keys.demo.kid }, claims.demo, hmac(keys.demo.publicKey.export({ format: "pem", type: "spki" }) as string))],
    ["HS256 keyed with our public key DER", "demo", () =>
      raw({ alg: "HS256", typ: "JWT" }, claims.demo, hmac(keys.demo.publicKey.export({ format: "der", type: "spki" })))],
    ["ES256 under our EdDSA kid", "demo", () => raw({ alg: "ES256", typ: "JWT", kid: keys.demo.kid }, claims.demo, es(attackerEs.privateKey))],
    ["an ES256 project's real token", "demo", () => tokens.es],
    ["EdDSA under the ES256 project's kid", "es", () => raw({ alg: "EdDSA", typ: "JWT", kid: keys.es.kid }, claims.es, ed(attackerEd.privateKey))],
    ["HS256 keyed with the ES256 project's public key PEM", "es", () =>
      raw({ alg: "HS256", typ: "JWT", kid: keys.es.kid }, claims.es, hmac(keys.es.publicKey.export({ format: "pem", type: "spki" }) as string))],
    ["an EdDSA project's real token", "es", () => tokens.demo],
    ["a DER-encoded ES256 signature from the real key", "es", () => raw({ alg: "ES256", typ: "JWT", kid: keys.es.kid }, claims.es, es(keys.es.privateKey, "der"))],
    ["a signature with a trailing base64url character", "es", () => `${raw({ alg: "ES256", typ: "JWT", kid: keys.es.kid }, claims.es, es(keys.es.privateKey))}A`],
    ["an EdDSA token on an HS256 project", "hs", () => tokens.demo],
    ["an EdDSA token with the HS256 project's claims, signed by an attacker", "hs", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: "x" }, claims.hs, ed(attackerEd.privateKey))],
    ["an EdDSA token with the HS256 project's claims under another project's real key", "hs", () =>
      raw({ alg: "EdDSA", typ: "JWT", kid: keys.demo.kid }, claims.hs, ed(keys.demo.privateKey))],
    ["an ES256 token on an HS256 project", "hs", () => tokens.es],
    ["an HS256 header with a kid", "hs", () => raw({ alg: "HS256", typ: "JWT", kid: "k1" }, claims.hs, hmac("guess"))],
  ];
  for (const [name, project, make] of cases) {
    it(`refuses ${name} (${project})`, async () => {
      await refused(project, await make());
    });
  }

  it("logged no unhandled error", () => {
    expect(inst.logs.filter((l) => l.includes("unhandled error"))).toEqual([]);
  });
});
