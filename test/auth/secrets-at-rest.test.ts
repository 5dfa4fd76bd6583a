import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, authSpec, logIn, signUp } from "../helpers/auth.ts";

/** Raw bytes of the project's database files (main, WAL, shared memory), as latin1 text. */
function databaseBytes(inst: TestInstance, project = "demo"): { file: string; text: string }[] {
  return ["", "-wal", "-shm"]
    .map((suffix) => join(inst.dataDir, `${project}.db${suffix}`))
    .filter((file) => existsSync(file))
    .map((file) => ({ file, text: readFileSync(file).toString("latin1") }));
}

describe("no secret at rest or in logs", () => {
  let inst: TestInstance | null = null;
  afterEach(async () => {
    await inst?.close();
    inst = null;
  });

  it("keeps no refresh token, access-token signature, project key or password in clear in the .db, -wal or -shm files, nor in any log line", async () => {
    inst = await createTestInstance([authSpec({ verifyEmail: true, auth: { refresh_reuse_grace: "5s" } })]);
    const secrets: string[] = [];
    const keys = inst.booted.generatedKeys.get("demo")!;
    let adminKey = keys.admin!;
    secrets.push(adminKey, keys.public!);
    const passwords = ["first correct horse", "second correct horse", "third correct horse"];
    secrets.push(...passwords, PASSWORD);
    const keep = (s: { token: string; refresh_token?: string }) => {
      secrets.push(s.token.split(".")[2]);
      if (s.refresh_token) secrets.push(s.refresh_token);
    };

    for (let i = 0; i < 3; i++) {
      const email = `user${i}@example.com`;
      const s = await signUp(inst, email, { password: passwords[i] });
      keep(s);
      const l = await logIn(inst, email, { password: passwords[i] });
      keep(l);
      let rt = l.refresh_token;
      for (let j = 0; j < 3; j++) {
        inst.clock.advance(1000);
        const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: rt } });
        expect(r.status).toBe(200);
        keep(r.body.data);
        rt = r.body.data.refresh_token;
      }
      const cp = await inst.req("POST", "/p/demo/auth/change-password", { token: s.token, body: { current_password: passwords[i], new_password: `${passwords[i]} v2` } });
      expect(cp.status).toBe(200);
      keep(cp.body.data);
      secrets.push(`${passwords[i]} v2`);
      const wrong = await inst.req("POST", "/p/demo/auth/login", { body: { email, password: `wrong ${passwords[i]}` } });
      expect(wrong.status).toBe(401);
      secrets.push(`wrong ${passwords[i]}`);
    }
    for (let i = 0; i < 2; i++) {
      const r = await inst.req("POST", "/p/demo/v1/rotate-keys", { body: { both: true }, headers: { "x-admin-key": adminKey } });
      expect(r.status).toBe(200);
      adminKey = r.body.data.admin_key;
      secrets.push(r.body.data.admin_key, r.body.data.public_key);
      expect((await inst.req("POST", "/p/demo/v1/rotate-jwt-secret", { headers: { "x-admin-key": adminKey } })).status).toBe(200);
    }
    // A reuse after the grace: its log line must not carry the token either.
    const victim = await logIn(inst, "user0@example.com", { password: `${passwords[0]} v2` });
    keep(victim);
    const rotated = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: victim.refresh_token } });
    keep(rotated.body.data);
    inst.clock.advance(6000);
    expect((await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: victim.refresh_token } })).status).toBe(401);

    expect(secrets.length).toBeGreaterThan(40);
    const files = databaseBytes(inst);
    expect(files.some((f) => f.file.endsWith("-wal"))).toBe(true);
    // The scan does see what is stored in clear (so a miss below means something).
    expect(files.some((f) => f.text.includes("user2@example.com"))).toBe(true);
    const logText = inst.logs.join("\n");
    for (const secret of secrets) {
      for (const f of files) expect({ file: f.file, found: f.text.includes(secret) }).toEqual({ file: f.file, found: false });
      expect({ inLogs: logText.includes(secret) }).toEqual({ inLogs: false });
    }
    // Nor any password hash in the logs.
    expect(logText).not.toContain("$argon2id$");

    // And still none after a checkpoint folds the WAL into the main file.
    await inst.booted.close();
    const afterClose = databaseBytes(inst);
    for (const secret of secrets) for (const f of afterClose) expect(f.text.includes(secret)).toBe(false);
    await inst.restart();
  });
});
