/**
 * End to end through a real SMTP server: the project's `smtp` provider (nodemailer) delivers to an
 * smtp-server on 127.0.0.1, driven by the real background sender.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { APP, NEW_PASSWORD, PASSWORD, demoProject, login } from "./fixtures.ts";
import { linkIn, reservePort, startSmtpSink, type SmtpSink } from "./smtp-sink.ts";

let inst: TestInstance | undefined;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await inst?.close();
  await sink?.close();
  inst = undefined;
  sink = undefined;
});

function smtpProject(port: number): ReturnType<typeof demoProject> {
  return demoProject({
    mail: { provider: "smtp", from: "Demo <no-reply@myapp.com>", options: { url: `smtp://127.0.0.1:${port}`, timeout_ms: 2000 } },
  });
}

/** Retries every ~50-100 ms so a test sees several attempts within a second or two. */
const FAST = { schedule: { baseDelayMs: 50, maxDelayMs: 100, maxAttempts: 100 }, maxSleepMs: 100 };

/** The path (and query) of a link to this server, to replay it through app.handle. */
const localPath = (link: URL): string => link.pathname + link.search;

describe("mail through a real SMTP server", () => {
  it("signup -> verification mail -> follow the link -> verified", async () => {
    sink = await startSmtpSink();
    inst = await createTestInstance([smtpProject(sink.port)], { mailSender: FAST });
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "Alice@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
    const [mail] = await sink.waitFor(1);
    // The stored address, as typed at signup (the local part keeps its case).
    expect(mail.to).toEqual(["Alice@example.org"]);
    expect(mail.subject).toBe("Confirm your email for Demo App");
    const link = linkIn(mail);
    expect(link.origin).toBe("http://127.0.0.1:8080");
    expect(link.pathname).toBe("/p/demo/auth/verify");
    const v = await inst.req("GET", localPath(link));
    expect(v.status).toBe(200);
    expect(v.text).toContain("Email verified");
    const me = await inst.req("GET", "/p/demo/auth/me", { token: s.body.data.token });
    expect(me.body.data.user.email_verified).toBe(true);
  });

  it("forgot -> mail -> reset -> the new password logs in, the old one and the old access token are refused", async () => {
    sink = await startSmtpSink();
    const spec = smtpProject(sink.port);
    (spec.tables as any).users.verify_email = false;
    inst = await createTestInstance([spec], { mailSender: FAST });
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "bob@example.org", password: PASSWORD } });
    const oldAccess = s.body.data.token as string;
    const f = await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "BOB@example.org", redirect_url: "https://MYAPP.com/account/reset?lang=en" } });
    expect(f.status).toBe(200);
    const [mail] = await sink.waitFor(1);
    expect(mail.to).toEqual(["bob@example.org"]);
    const link = linkIn(mail);
    expect(link.origin).toBe(APP);
    expect(link.pathname).toBe("/account/reset");
    expect(link.searchParams.get("lang")).toBe("en");
    const token = link.searchParams.get("token")!;
    const r = await inst.req("POST", "/p/demo/auth/reset-password", { body: { token, new_password: NEW_PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.body.data.token).toBeUndefined();
    expect((await login(inst, "bob@example.org", NEW_PASSWORD)).status).toBe(200);
    const old = await login(inst, "bob@example.org", PASSWORD);
    expect(old.status).toBe(401);
    const me = await inst.req("GET", "/p/demo/auth/me", { token: oldAccess });
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe("AUTH_INVALID_TOKEN");
    const [, notice] = await sink.waitFor(2);
    expect(notice.subject).toBe("Your Demo App password was changed");
  });
});

describe("outbox resilience", () => {
  it("answers 200 while SMTP is down and delivers once the server comes back on the same port", async () => {
    const port = await reservePort();
    inst = await createTestInstance([smtpProject(port)], { mailSender: FAST, boot: { now: () => Date.now() } });
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "carol@example.org", password: PASSWORD } });
    expect(s.status).toBe(201);
    const f = await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "carol@example.org", redirect_url: `${APP}/r` } });
    expect(f.status).toBe(200);
    expect(f.body).toEqual({ data: { ok: true } });
    await waitUntil(() => inst!.outbox.rows("demo").every((r) => r.attempts >= 2));
    const failing = inst.outbox.rows("demo");
    expect(failing.every((r) => r.status === "pending" && r.last_error !== null)).toBe(true);
    expect(inst.logs.some((l) => l.includes("mail delivery failed; will retry"))).toBe(true);

    sink = await startSmtpSink(port);
    const got = await sink.waitFor(2);
    expect(got.map((m) => m.subject).sort()).toEqual(["Confirm your email for Demo App", "Reset your Demo App password"]);
    await waitUntil(() => inst!.outbox.rows("demo").every((r) => r.status === "sent"));
    for (const row of inst.outbox.rows("demo")) {
      expect(row.payload).toBeNull();
      expect(row.last_error).toBeNull();
    }
    // Retry logs carry no token or link.
    const tokens = got.map((m) => linkIn(m).searchParams.get("token")!);
    for (const t of tokens) expect(inst.logs.join("\n")).not.toContain(t);
  });

  it("delivers a message queued before a restart after it", async () => {
    const port = await reservePort();
    inst = await createTestInstance([smtpProject(port)], { mailSender: FAST, boot: { now: () => Date.now() } });
    await inst.req("POST", "/p/demo/auth/signup", { body: { email: "dave@example.org", password: PASSWORD } });
    await waitUntil(() => inst!.outbox.rows("demo")[0]?.attempts >= 1);
    await inst.restart();
    expect(inst.outbox.rows("demo")[0].status).toBe("pending");
    sink = await startSmtpSink(port);
    const [mail] = await sink.waitFor(1);
    const v = await inst.req("GET", localPath(linkIn(mail)), { headers: { accept: "application/json" } });
    expect(v.status).toBe(200);
  });

  it("marks a message failed after the last attempt and drops its payload", async () => {
    const port = await reservePort();
    inst = await createTestInstance([smtpProject(port)], {
      mailSender: { schedule: { baseDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 }, maxSleepMs: 50 },
      boot: { now: () => Date.now() },
    });
    await inst.req("POST", "/p/demo/auth/signup", { body: { email: "erin@example.org", password: PASSWORD } });
    // The sender logs once its write has committed: on PostgreSQL this test can read the row first.
    await waitUntil(() => inst!.outbox.rows("demo")[0]?.status === "failed" && inst!.logs.some((l) => l.includes("giving up")));
    const [row] = inst.outbox.rows("demo");
    expect(row.attempts).toBe(3);
    expect(row.payload).toBeNull();
    expect(row.last_error).not.toBeNull();
    expect(inst.logs.some((l) => l.includes("giving up"))).toBe(true);
  });

  it("lets an in-flight send finish on shutdown", async () => {
    const release = Promise.withResolvers<void>();
    const started = Promise.withResolvers<void>();
    inst = await createTestInstance([demoProject()], {
      mailSender: FAST,
      mailSend: async (msg, realSend) => {
        started.resolve();
        await release.promise;
        await realSend(msg);
      },
    });
    await inst.req("POST", "/p/demo/auth/signup", { body: { email: "frank@example.org", password: PASSWORD } });
    await started.promise;
    const closing = inst.booted.close();
    await Bun.sleep(30);
    release.resolve();
    await closing;
    expect(inst.mail.messages).toHaveLength(1);
    // The instance is closed: read the file itself on SQLite, the project's schema on PostgreSQL.
    const db = inst.engine === "sqlite" ? new Database(join(inst.dataDir, "demo.db"), { readonly: true }) : dbOf(inst);
    const row = db.query("SELECT status, payload FROM _outbox").get() as { status: string; payload: string | null };
    if (db instanceof Database) db.close();
    expect(row).toEqual({ status: "sent", payload: null });
  });
});

describe("outbox housekeeping", () => {
  it("deletes finished messages and expired link tokens after 30 days, keeping pending ones", async () => {
    inst = await createTestInstance([demoProject()], { mailSender: FAST });
    const old = inst.clock.now - 31 * 86_400_000;
    const insert = dbOf(inst).query(
      "INSERT INTO _outbox(id, template, to_addr, payload, status, next_attempt_at, created_at, finished_at) VALUES (?, 'verify_email', 'a@example.org', NULL, ?, ?, ?, ?)",
    );
    insert.run("old-sent", "sent", old, old, old);
    insert.run("recent-sent", "sent", old, old, inst.clock.now - 86_400_000);
    dbOf(inst).query(
      "INSERT INTO _link_tokens(id, token_hash, kind, user_id, email, created_at, expires_at) VALUES ('old', 'h1', 'verify', 'u', 'a@example.org', ?, ?), ('live', 'h2', 'verify', 'u', 'a@example.org', ?, ?)",
    ).run(old, old + 1000, inst.clock.now, inst.clock.now + 3_600_000);
    await inst.restart();
    // Housekeeping prunes the outbox, then the link tokens (two statements: on PostgreSQL a read can
    // fall between them): wait for both.
    await waitUntil(() => inst!.outbox.rows("demo").length === 1 && dbOf(inst!).query("SELECT id FROM _link_tokens").all().length === 1);
    expect(inst.outbox.rows("demo").map((r) => r.id)).toEqual(["recent-sent"]);
    const tokens = dbOf(inst).query("SELECT id FROM _link_tokens").all();
    expect(tokens).toEqual([{ id: "live" }]);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}
