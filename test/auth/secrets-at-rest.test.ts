import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, authSpec, logIn, runtimeOf, signUp } from "../helpers/auth.ts";
import { ADMIN_KEY, PUBLIC_KEY, accountsSpec, admin, lastLinkToken } from "../accounts/helpers.ts";

const sqlite = sqliteOnly("reads the project's .db, -wal and -shm files for secrets in clear");

/** Raw bytes of the project's database files (main, WAL, shared memory), as latin1 text. */
function databaseBytes(inst: TestInstance, project = "demo"): { file: string; text: string }[] {
  return ["", "-wal", "-shm"]
    .map((suffix) => join(inst.dataDir, `${project}.db${suffix}`))
    .filter((file) => existsSync(file))
    .map((file) => ({ file, text: readFileSync(file).toString("latin1") }));
}

sqlite.describe("no secret at rest or in logs", () => {
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

  it("keeps no password, token, key or hash in the audit log, the other tables or the logs after the accounts and admin flows", async () => {
    inst = await createTestInstance([accountsSpec()]);
    const secrets: string[] = [ADMIN_KEY, PUBLIC_KEY, PASSWORD];
    const keep = (s: { token?: string; refresh_token?: string }) => {
      if (s.token) secrets.push(s.token, s.token.split(".")[2]);
      if (s.refresh_token) secrets.push(s.refresh_token);
    };
    const ann = await signUp(inst, "ann@example.com");
    keep(ann);
    const other = await logIn(inst, "ann@example.com");
    keep(other);
    // Admin: create with a password, patch, ban, unban, sessions, reset mail.
    const opPassword = "operator chosen password";
    secrets.push(opPassword);
    const created = await admin(inst, "POST", "/users", { email: "op@example.com", password: opPassword, role: "admin", note: "hidden note" });
    expect(created.status).toBe(201);
    const opId = created.body.data.user.id;
    keep(await logIn(inst, "op@example.com", { password: opPassword }));
    expect((await admin(inst, "PATCH", `/users/${opId}`, { display_name: "Op" })).status).toBe(200);
    expect((await admin(inst, "POST", `/users/${opId}/ban`, { reason: "test" })).status).toBe(200);
    const bannedTry = await inst.req("POST", "/p/demo/auth/login", { body: { email: "op@example.com", password: opPassword } });
    expect(bannedTry.status).toBe(403);
    expect((await admin(inst, "POST", `/users/${opId}/unban`)).status).toBe(200);
    expect((await admin(inst, "POST", `/users/${opId}/send-password-reset`, { redirect_url: "https://myapp.com/reset" })).status).toBe(200);
    secrets.push(await lastLinkToken(inst, "op@example.com", "Reset your"));
    expect((await admin(inst, "POST", `/users/${opId}/revoke-sessions`)).status).toBe(200);
    // A failed login, a wrong admin key, a rotation.
    secrets.push("wrong password guess");
    expect((await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: "wrong password guess" } })).status).toBe(401);
    const wrongKey = "sk_" + "W".repeat(43);
    secrets.push(wrongKey);
    expect((await inst.req("GET", "/p/demo/v1/users", { headers: { "x-admin-key": wrongKey } })).status).toBe(401);
    const rotated = await inst.req("POST", "/p/demo/v1/rotate-keys", { body: { public: true }, headers: { "x-admin-key": ADMIN_KEY } });
    secrets.push(rotated.body.data.public_key);
    // End user: change email (confirmed), end a session, delete the account.
    expect((await inst.req("POST", "/p/demo/auth/change-email", { token: ann.token, body: { new_email: "ann2@example.com", password: PASSWORD } })).status).toBe(200);
    const change = await lastLinkToken(inst, "ann2@example.com", "Confirm your new email");
    secrets.push(change);
    expect((await inst.req("GET", `/p/demo/auth/verify?token=${change}`, { headers: { accept: "application/json" } })).status).toBe(200);
    const fresh = await logIn(inst, "ann2@example.com");
    keep(fresh);
    const sid = (await inst.req("GET", "/p/demo/auth/sessions", { token: fresh.token })).body.data.sessions.find((x: { current: boolean }) => !x.current).id;
    expect((await inst.req("DELETE", `/p/demo/auth/sessions/${sid}`, { token: fresh.token })).status).toBe(200);
    const p = runtimeOf(inst);
    const hashes = (p.db.query("SELECT password_hash AS h FROM users").all() as { h: string }[]).map((r) => r.h);
    secrets.push(...hashes);
    expect((await inst.req("DELETE", "/p/demo/auth/me", { token: fresh.token, body: { password: PASSWORD } })).status).toBe(200);

    const audit = JSON.stringify(p.db.query("SELECT * FROM _audit").all());
    // The audit log did record these flows (so a miss below means something).
    for (const type of ["user.signup", "user.login", "user.login_failed", "admin.user_created", "admin.user_banned", "user.email_changed", "user.deleted", "session.revoked", "admin.key_failed", "admin.keys_rotated"]) {
      expect(audit).toContain(`"${type}"`);
    }
    const files = databaseBytes(inst);
    const logText = inst.logs.join("\n");
    expect(secrets.length).toBeGreaterThan(15);
    for (const secret of secrets) {
      expect({ inAudit: audit.includes(secret) }).toEqual({ inAudit: false });
      expect({ inLogs: logText.includes(secret) }).toEqual({ inLogs: false });
      // Password hashes live in the users table by design; everything else nowhere in clear.
      if (!hashes.includes(secret)) for (const f of files) expect({ file: f.file, found: f.text.includes(secret) }).toEqual({ file: f.file, found: false });
    }
    expect(audit).not.toContain("$argon2");
    expect(logText).not.toContain("$argon2");
  });
});
