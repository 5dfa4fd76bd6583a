/**
 * EdDSA (Ed25519) and ES256 (P-256) access tokens (SPEC 13). As with HS256, the verifier never
 * reads the header: it looks the header's exact text up among the headers of the project's own
 * keys. So `alg` confusion (HS256 keyed with a public key, `none`, RS256), `jku` / `x5u` / `jwk` /
 * `crit` headers, a `kid` of another project or an unknown `kid` are refused before any crypto,
 * and the algorithm is the one the key was made for, never one a token asks for.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { checkClaims, INVALID, type JwtVerifyResult, type TokenClaims } from "./jwt.ts";

export type AsymmetricAlgorithm = "EdDSA" | "ES256";

/** A public key as published in the JWKS (RFC 7517), with `kid`, `alg` and `use`. */
export interface PublicJwk {
  readonly kty: "OKP" | "EC";
  readonly crv: "Ed25519" | "P-256";
  readonly x: string;
  readonly y?: string;
  readonly kid: string;
  readonly alg: AsymmetricAlgorithm;
  readonly use: "sig";
}

/** One signing key pair, ready to sign and verify. */
export interface SigningKeyPair {
  readonly kid: string;
  readonly alg: AsymmetricAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: PublicJwk;
  /** base64url of the exact header this key signs with: `{"alg":…,"typ":"JWT","kid":…}`. */
  readonly headerB64: string;
}

/** A new key pair and its private key as PKCS#8 DER (the caller seals it before storing it). */
export function generateSigningKey(alg: AsymmetricAlgorithm): { pair: SigningKeyPair; pkcs8: Uint8Array } {
  const { privateKey } = alg === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pkcs8 = new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }));
  return { pair: importSigningKey(alg, pkcs8), pkcs8 };
}

/** Rebuilds a key pair from its PKCS#8 DER; throws when the key is not of `alg`. */
export function importSigningKey(alg: AsymmetricAlgorithm, pkcs8: Uint8Array): SigningKeyPair {
  const privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey);
  const exported = publicKey.export({ format: "jwk" }) as { kty?: string; crv?: string; x?: string; y?: string };
  const expected = alg === "EdDSA" ? { kty: "OKP", crv: "Ed25519" } : { kty: "EC", crv: "P-256" };
  if (exported.kty !== expected.kty || exported.crv !== expected.crv || typeof exported.x !== "string") {
    throw new Error(`stored signing key is not an ${alg} key`);
  }
  const kid = thumbprint(exported as { kty: string; crv: string; x: string; y?: string });
  const jwk: PublicJwk = alg === "EdDSA"
    ? { kty: "OKP", crv: "Ed25519", x: exported.x, kid, alg, use: "sig" }
    : { kty: "EC", crv: "P-256", x: exported.x, y: exported.y, kid, alg, use: "sig" };
  const headerB64 = Buffer.from(JSON.stringify({ alg, typ: "JWT", kid })).toString("base64url");
  return { kid, alg, privateKey, publicKey, jwk, headerB64 };
}

/** RFC 7638 JWK thumbprint (SHA-256): the `kid`. Distinct keys, hence distinct projects, never share one. */
function thumbprint(jwk: { kty: string; crv: string; x: string; y?: string }): string {
  const canonical = jwk.kty === "EC"
    ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
    : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash("sha256").update(canonical).digest("base64url");
}

function signBytes(pair: SigningKeyPair, data: Buffer): Buffer {
  // ES256 signatures are R || S (IEEE P1363), as JWS requires, not DER.
  return pair.alg === "EdDSA" ? sign(null, data, pair.privateKey) : sign("sha256", data, { key: pair.privateKey, dsaEncoding: "ieee-p1363" });
}

export function signJwtWith(pair: SigningKeyPair, claims: TokenClaims): string {
  const body = `${pair.headerB64}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${body}.${signBytes(pair, Buffer.from(body)).toString("base64url")}`;
}

/** Both algorithms sign with 64 bytes: 86 base64url characters without padding. */
const SIGNATURE_B64_LENGTH = 86;

/**
 * Verifies a token against the keys that may verify now, keyed by their exact header text;
 * then `aud`, `iss`, `exp` and claim types as for HS256.
 */
export function verifyJwtWith(
  token: string,
  keysByHeader: ReadonlyMap<string, SigningKeyPair>,
  expect: { aud: string; iss: string; nowMs: number },
): JwtVerifyResult {
  const dot1 = token.indexOf(".");
  const dot2 = token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf(".", dot2 + 1) !== -1) return INVALID;
  const pair = keysByHeader.get(token.slice(0, dot1));
  if (pair === undefined) return INVALID;
  const sigText = token.slice(dot2 + 1);
  if (sigText.length !== SIGNATURE_B64_LENGTH) return INVALID;
  const sig = Buffer.from(sigText, "base64url");
  // Node's decoder skips bad characters; only the canonical encoding of 64 bytes passes.
  if (sig.length !== 64 || sig.toString("base64url") !== sigText) return INVALID;
  const data = Buffer.from(token.slice(0, dot2));
  const ok = pair.alg === "EdDSA"
    ? verify(null, data, pair.publicKey, sig)
    : verify("sha256", data, { key: pair.publicKey, dsaEncoding: "ieee-p1363" }, sig);
  if (!ok) return INVALID;
  return checkClaims(token.slice(dot1 + 1, dot2), expect);
}
