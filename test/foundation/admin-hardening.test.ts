/** Issue 8 items 22 and 27: admin events carry IP and request id; no endpoint ignores a field; concurrent close. */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { parse } from "valibot";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { authSpec, PASSWORD, dbOf, signUp } from "../helpers/auth.ts";

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

const adminKey = (t: TestInstance, id = "demo"): string => t.booted.generatedKeys.get(id)!.admin!;
const events = (t: TestInstance, name: string): Record<string, unknown>[] =>
  t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === name);

describe("admin security events", () => {
  it("carry the client IP and the request id, like every other event", async () => {
    inst = await createTestInstance([authSpec()]);
    const key = adminKey(inst);
    const calls: [string, string, unknown, string, string][] = [
      ["PUT", "/p/demo/v1/redirect-origins", { allowed_redirect_origins: ["https://a.example"] }, "redirect_origins_changed", key],
      ["POST", "/p/demo/v1/rotate-jwt-secret", undefined, "jwt_secret_rotated", key],
      ["GET", "/p/demo/v1/redirect-origins", undefined, "admin_key_failed", "sk_wrong"],
      ["POST", "/p/demo/v1/rotate-keys", { public: true }, "keys_rotated", key],
    ];
    for (const [method, path, body, event, k] of calls) {
      const r = await inst.req(method, path, { body, headers: { "x-admin-key": k, "x-request-id": `req-${event}` }, ip: "2001:db8::42" });
      expect(r.headers.get("x-request-id")).toBe(`req-${event}`);
      const e = events(inst, event);
      expect(e.length).toBe(1);
      expect({ event, ip: e[0].ip, request_id: e[0].request_id, project: e[0].project }).toEqual({ event, ip: "2001:db8::42", request_id: `req-${event}`, project: "demo" });
    }
  });
});

describe("every security event", () => {
  it("carries the client IP and the request id, across the user and admin flows", async () => {
    inst = await createTestInstance([authSpec()]);
    const t = inst;
    const key = adminKey(t);
    const ip = "203.0.113.44";
    const s = await signUp(t, "ann@example.com", { ip });
    // A hash of another algorithm: the next login rehashes it (event password_rehashed).
    const bcrypt = BUILTIN_PLUGINS.hashers["bcrypt"];
    const legacy = await bcrypt.create(parse(bcrypt.optionsSchema, { cost: 4 }), { baseDir: ".", log: () => {} }).hash(PASSWORD);
    dbOf(t).query("UPDATE users SET password_hash = ? WHERE id = ?").run(legacy, s.user.id);
    await t.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: "wrong password!" }, ip });
    const loggedIn = await t.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD }, ip });
    const session = loggedIn.body.data as { token: string; refresh_token: string };
    await t.req("POST", "/p/demo/auth/change-password", { token: session.token, body: { current_password: "nope nope nope", new_password: "another good one" }, ip });
    await t.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: session.refresh_token }, ip });
    await t.req("POST", "/p/demo/auth/logout", { token: s.token, ip });
    await t.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": key }, body: { public: true }, ip });
    await t.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_nope" }, ip });
    const lines = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event !== undefined);
    const names = new Set(lines.map((l) => l.event));
    for (const e of ["signup", "login_failed", "password_rehashed", "login", "password_change_failed", "logout", "keys_rotated", "admin_key_failed"]) expect(names.has(e)).toBe(true);
    for (const l of lines) {
      expect({ event: l.event, request_id: typeof l.request_id }).toEqual({ event: l.event, request_id: "string" });
      expect({ event: l.event, ip: l.ip }).toEqual({ event: l.event, ip });
    }
  });
});

describe("endpoints that take no fields refuse unknown ones", () => {
  it("rotate-keys refuses an unknown field before or after a valid flag, and rotates nothing", async () => {
    inst = await createTestInstance([authSpec()]);
    const key = adminKey(inst);
    for (const body of [{ extra: 1, admin: true }, { admin: true, extra: 1 }, { both: true, reason: "lost laptop" }]) {
      const r = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": key }, body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("VALIDATION_UNKNOWN_FIELD");
    }
    expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } })).status).toBe(200);
  });

  it("rotate-jwt-secret refuses any field and keeps the secret; {} and an empty body rotate", async () => {
    inst = await createTestInstance([authSpec()]);
    const key = adminKey(inst);
    const p = inst.booted.projects.get("demo")!;
    const before = Buffer.from(p.jwt.current());
    const r = await inst.req("POST", "/p/demo/v1/rotate-jwt-secret", { headers: { "x-admin-key": key }, body: { rotate: true } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "VALIDATION_UNKNOWN_FIELD", field: "rotate" });
    expect(Buffer.from(p.jwt.current()).equals(before)).toBe(true);
    for (const body of [{}, undefined]) {
      const ok = await inst.req("POST", "/p/demo/v1/rotate-jwt-secret", { headers: { "x-admin-key": key }, body });
      expect(ok.status).toBe(200);
    }
    expect(Buffer.from(p.jwt.current()).equals(before)).toBe(false);
  });

  it("resend-verification with a bearer token refuses a field and queues no mail", async () => {
    inst = await createTestInstance([authSpec({ verifyEmail: true })]);
    const s = await signUp(inst, "ann@example.com");
    const queued = (): number => inst!.outbox.rows("demo").length;
    const before = queued();
    const r = await inst.req("POST", "/p/demo/auth/resend-verification", { token: s.token, body: { email: "other@example.com" } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "VALIDATION_UNKNOWN_FIELD", field: "email" });
    expect(queued()).toBe(before);
    const ok = await inst.req("POST", "/p/demo/auth/resend-verification", { token: s.token, body: {} });
    expect(ok.status).toBe(200);
    expect(queued()).toBe(before + 1);
  });
});

describe("shutdown", () => {
  it("closes every project at the same time", async () => {
    inst = await createTestInstance([authSpec({ id: "one" }), authSpec({ id: "two" }), authSpec({ id: "three" })]);
    let active = 0;
    let most = 0;
    const order: string[] = [];
    // The pool is not iterable: values() opens every project (as the old Map held them all open).
    for (const [id, p] of inst.booted.projects.values().map((r) => [r.id, r] as const)) {
      p.onClose(async () => {
        active++;
        most = Math.max(most, active);
        order.push(`start ${id}`);
        await Bun.sleep(100);
        active--;
        order.push(`end ${id}`);
      });
    }
    await inst.booted.close();
    // All three were closing at the same time (one after another, at most one would be).
    expect(most).toBe(3);
    expect(order.slice(0, 3).every((o) => o.startsWith("start"))).toBe(true);
    expect(inst.booted.projects.size).toBe(0);
  });
});
