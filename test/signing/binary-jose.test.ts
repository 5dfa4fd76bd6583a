/**
 * Tokens of the running compiled binary, verified by a library nobody here wrote: jose discovers the
 * JWKS from the issuer's openid-configuration and verifies EdDSA and ES256 tokens with
 * createRemoteJWKSet + jwtVerify, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { projectYaml } from "../helpers/instance.ts";
import { authSpec, PASSWORD } from "../helpers/auth.ts";
import { ROOT, runCli, startServe, type Running } from "../cli/run.ts";
import { freeLoopbackPort } from "../helpers/ports.ts";

const ADMIN_KEY = "sk_binaryJoseAdminKey0123456789abcdefXYZ";
const PROJECTS = { ed: "EdDSA", es: "ES256" } as const;

let dir = "";
let running: Running | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-jose-"));
  // Built once for this file, with the flags of `npm run build`, and run from a directory without sources.
  const build = await runCli(
    [process.execPath, "build", join(ROOT, "src/main.ts"), join(ROOT, "src/storage/sqlite/checkpoint-worker.ts"), "--compile", "--production", "--bytecode",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--outfile", join(dir, "latchkey")],
    { cwd: ROOT },
  );
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  mkdirSync(join(dir, "projects"));
  for (const [id, algorithm] of Object.entries(PROJECTS)) {
    const spec = authSpec({ id, auth: { access_token_ttl: "15m", signing: { algorithm } } });
    spec.keys = { admin: ADMIN_KEY };
    writeFileSync(join(dir, "projects", `${id}.yaml`), projectYaml(spec));
  }
  const port = await freeLoopbackPort();
  running = await startServe([join(dir, "latchkey"), "serve", "--config", "projects", "--data", "data", "--port", String(port)], { cwd: dir });
}, 120_000);

afterAll(() => {
  running?.proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(`${running!.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

/** What a service beside Latchkey does: it knows the issuer, discovers the JWKS from it. */
async function discover(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
  const r = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(r.status).toBe(200);
  const config = (await r.json()) as { issuer: string; jwks_uri: string };
  expect(config.issuer).toBe(issuer);
  return createRemoteJWKSet(new URL(config.jwks_uri));
}

describe("the compiled binary's tokens, verified by jose", () => {
  for (const [id, alg] of Object.entries(PROJECTS)) {
    it(`verifies an ${alg} token with createRemoteJWKSet discovered from the issuer`, async () => {
      const issuer = `${running!.url}/p/${id}`;
      const s = await post(`/p/${id}/auth/signup`, { email: `${id}@example.com`, password: PASSWORD });
      expect(s.status).toBe(201);
      const jwks = await discover(issuer);
      const { payload, protectedHeader } = await jwtVerify(s.body.data.token, jwks, { issuer, audience: id, algorithms: [alg] });
      expect(payload.sub).toBe(s.body.data.user.id);
      expect(payload.email).toBe(`${id}@example.com`);
      expect(protectedHeader.alg).toBe(alg);
      expect(protectedHeader.kid).toBeString();
    });
  }

  it("refuses another project's token and a token for another audience", async () => {
    const edIssuer = `${running!.url}/p/ed`;
    const es = await post("/p/es/auth/signup", { email: "cross@example.com", password: PASSWORD });
    await expect(jwtVerify(es.body.data.token, await discover(edIssuer), { issuer: edIssuer, audience: "ed" })).rejects.toThrow();
  });

  it("after an emergency rotation, the old token fails in Latchkey at once and in jose after a refetch", async () => {
    const issuer = `${running!.url}/p/ed`;
    const s = await post("/p/ed/auth/signup", { email: "emergency@example.com", password: PASSWORD });
    const old = s.body.data.token as string;
    const jwks = await discover(issuer);
    await jwtVerify(old, jwks, { issuer, audience: "ed" });

    const rot = await post("/p/ed/v1/rotate-jwt-secret", {}, { "x-admin-key": ADMIN_KEY });
    expect(rot.status).toBe(200);
    expect((await fetch(`${running!.url}/p/ed/auth/me`, { headers: { authorization: `Bearer ${old}` } })).status).toBe(401);
    // Offline verification sees nothing until it refetches (the docs say so)...
    await jwtVerify(old, jwks, { issuer, audience: "ed" });
    await jwks.reload();
    // ...then the old key is gone.
    await expect(jwtVerify(old, jwks, { issuer, audience: "ed" })).rejects.toThrow();

    const r = await post("/p/ed/auth/refresh", { refresh_token: s.body.data.refresh_token });
    expect(r.status).toBe(200);
    expect(decodeProtectedHeader(r.body.data.token).kid).not.toBe(decodeProtectedHeader(old).kid);
    const { payload } = await jwtVerify(r.body.data.token, jwks, { issuer, audience: "ed" });
    expect(payload.sub).toBe(s.body.data.user.id);
  });
});
