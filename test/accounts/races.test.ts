import { afterEach, describe, expect, it } from "bun:test";
import type { TestInstance } from "../helpers/instance.ts";
import { expectError, logIn, PASSWORD, signUp } from "../helpers/auth.ts";
import { accountsInstance, admin } from "./helpers.ts";

let inst: TestInstance;
afterEach(async () => {
  await inst?.close();
});

describe("ban during a burst of refreshes", () => {
  it("no refresh succeeds once the ban has answered 200, and every token handed out before is dead", async () => {
    inst = await accountsInstance();
    const ann = await signUp(inst, "ann@example.com");
    const chains = [ann.refresh_token];
    for (let i = 0; i < 7; i++) chains.push((await logIn(inst, "ann@example.com")).refresh_token);
    let banAnswered = false;
    const outcomes: { startedAfterBan: boolean; status: number; token?: string; refresh?: string }[] = [];
    let stop = false;
    const runChain = async (start: string) => {
      let rt = start;
      while (!stop) {
        const startedAfterBan = banAnswered;
        const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: rt } });
        outcomes.push({ startedAfterBan, status: r.status, token: r.body?.data?.token, refresh: r.body?.data?.refresh_token });
        if (r.status !== 200) {
          if (startedAfterBan) return;
          // Refused once the ban had committed but before its answer reached this test (a slower
          // engine answers later): ask again with the same token once the ban has answered.
          await Bun.sleep(1);
          continue;
        }
        rt = r.body.data.refresh_token;
        // In-process requests resolve without touching the event loop; yield so the ban can run.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const running = chains.map((c) => runChain(c));
    // The ban lands once the burst is under way (more than 8 refreshes done), however fast the engine.
    for (const deadline = Date.now() + 5_000; outcomes.filter((o) => o.status === 200).length <= 8 && Date.now() < deadline; ) await Bun.sleep(5);
    const ban = await admin(inst, "POST", `/users/${ann.user.id}/ban`, {});
    expect(ban.status).toBe(200);
    banAnswered = true;
    setTimeout(() => (stop = true), 200);
    await Promise.all(running);
    stop = true;
    const before = outcomes.filter((o) => !o.startedAfterBan);
    const after = outcomes.filter((o) => o.startedAfterBan);
    // The burst really overlapped the ban: refreshes succeeded before it, and chains were still running after it.
    expect(before.filter((o) => o.status === 200).length).toBeGreaterThan(8);
    expect(after.length).toBeGreaterThan(0);
    for (const o of after) expect(o.status).toBe(401);
    // Whatever a refresh handed out before the ban is refused now.
    for (const o of before.filter((x) => x.status === 200).slice(-8)) {
      expectError(await inst.req("GET", "/p/demo/auth/me", { token: o.token }), 401, "AUTH_INVALID_TOKEN");
      expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: o.refresh } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
    }
  });
});

describe("revoke_sessions_on_password_reset", () => {
  // Ann's address is verified (here by the admin API: this project sends no verification mail) and
  // she then signs in, so her session is one opened while the address was verified. A reset always
  // ends sessions opened before that (the pre-registration rule), whatever the setting says.
  async function resetAnn(): Promise<{ refresh: string; access: string }> {
    const signed = await signUp(inst, "ann@example.com");
    const userId = signed.user.id;
    expect((await admin(inst, "PATCH", `/users/${userId}`, { email_verified: true })).status).toBe(200);
    const login = await inst.req("POST", "/p/demo/auth/login", { body: { email: "ann@example.com", password: PASSWORD } });
    expect(login.status).toBe(200);
    const s = login.body.data as { token: string; refresh_token: string };
    await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "ann@example.com", redirect_url: "https://myapp.com/r" } });
    await inst.outbox.deliver();
    const msg = inst.mail.messages.findLast((m) => m.subject.includes("Reset your"))!;
    const token = /token=([A-Za-z0-9_-]{43})/.exec(msg.text)![1];
    expect((await inst.req("POST", "/p/demo/auth/reset-password", { body: { token, new_password: "a brand new password" } })).status).toBe(200);
    return { refresh: s.refresh_token, access: s.token };
  }

  it("by default (the seed's) keeps refresh tokens working after a reset; access tokens are refused", async () => {
    inst = await accountsInstance();
    const { refresh, access } = await resetAnn();
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: access }), 401, "AUTH_INVALID_TOKEN");
    const r = await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refresh } });
    expect(r.status).toBe(200);
    expect((await inst.req("GET", "/p/demo/auth/me", { token: r.body.data.token })).status).toBe(200);
  });

  it("with revoke_sessions_on_password_reset: true ends every session", async () => {
    inst = await accountsInstance([], { auth: { revoke_sessions_on_password_reset: true } });
    const { refresh, access } = await resetAnn();
    expectError(await inst.req("GET", "/p/demo/auth/me", { token: access }), 401, "AUTH_INVALID_TOKEN");
    expectError(await inst.req("POST", "/p/demo/auth/refresh", { body: { refresh_token: refresh } }), 401, "AUTH_INVALID_REFRESH_TOKEN");
  });
});
