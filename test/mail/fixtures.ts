/** Shared project spec and small helpers for the mail / reset / verification flow tests. */
import { expect } from "bun:test";
import type { MailMessage } from "../../src/plugin-api.ts";
import type { ProjectSpec, TestInstance } from "../helpers/instance.ts";

export const APP = "https://myapp.com";
export const PASSWORD = "correct horse battery";
export const NEW_PASSWORD = "a brand new passphrase";

/** A project with an auth table that sends verification mail through the in-memory capture provider. */
export function demoProject(overrides: Record<string, unknown> = {}): ProjectSpec {
  return {
    id: "demo",
    name: "Demo App",
    allowed_redirect_origins: [APP, "http://localhost:5173"],
    tables: {
      users: {
        auth_table: true,
        verify_email: true,
        columns: { display_name: "string max_length 80" },
      },
    },
    mail: { provider: "capture", from: "Demo <no-reply@myapp.com>" },
    ...overrides,
  };
}

export function withAuth(spec: ProjectSpec, auth: Record<string, unknown>): ProjectSpec {
  return { ...spec, auth: { ...((spec.auth as Record<string, unknown>) ?? {}), ...auth } };
}

export async function signup(inst: TestInstance, email: string, extra: Record<string, unknown> = {}): Promise<{ token?: string; userId: string }> {
  const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email, password: PASSWORD, ...extra } });
  expect(r.status).toBe(201);
  return { token: r.body.data.token, userId: r.body.data.user.id };
}

/** The `token` query parameter of the link in a rendered message. */
export function tokenIn(msg: MailMessage): string {
  const m = /[?&]token=([A-Za-z0-9_-]{43})/.exec(msg.text);
  if (!m) throw new Error(`no token link in mail "${msg.subject}"`);
  return m[1];
}

/** Outbox rows of the demo project for one template. */
export function outboxRows(inst: TestInstance, template?: string): ReturnType<TestInstance["outbox"]["rows"]> {
  return inst.outbox.rows("demo").filter((r) => template === undefined || r.template === template);
}

/** Delivers the demo outbox (capture provider) and returns the messages of one template sent to `to`. */
export async function deliveredTo(inst: TestInstance, to: string, template: "verify" | "reset" | "changed"): Promise<MailMessage[]> {
  await inst.outbox.deliver("demo");
  const subjects = { verify: "Confirm your email", reset: "Reset your", changed: "password was changed" };
  return inst.mail.messages.filter((m) => m.to === to && m.subject.includes(subjects[template]));
}

export async function forgot(inst: TestInstance, email: string, opts: { redirect_url?: string; ip?: string } = {}) {
  return inst.req("POST", "/p/demo/auth/forgot-password", {
    body: { email, redirect_url: opts.redirect_url ?? `${APP}/reset` },
    ip: opts.ip,
  });
}

export async function login(inst: TestInstance, email: string, password: string) {
  return inst.req("POST", "/p/demo/auth/login", { body: { email, password } });
}
