/** Shared setup for the accounts and admin users tests (SPEC 11, 12). */
import { createTestInstance, type ProjectSpec, type TestInstance, type TestResponse } from "../helpers/instance.ts";

export const ADMIN_KEY = "sk_" + "A".repeat(43);
export const PUBLIC_KEY = "pk_" + "P".repeat(43);
export const OTHER_ADMIN_KEY = "sk_" + "B".repeat(43);

/** `demo`: a readonly `role`, a hidden `note`, a `restrict` and a `cascade` reference to users. */
export function accountsSpec(opts: { id?: string; auth?: Record<string, unknown>; adminKey?: string; restrict?: boolean } = {}): ProjectSpec {
  return {
    id: opts.id ?? "demo",
    keys: { admin: opts.adminKey ?? ADMIN_KEY, public: PUBLIC_KEY },
    allowed_redirect_origins: ["https://myapp.com"],
    tables: {
      users: {
        auth_table: true,
        columns: {
          display_name: "string max_length 80",
          role: { type: "enum", values: ["user", "admin"], default: "user", readonly: true },
          note: { type: "string", hidden: true, readonly: true },
          age: "int",
        },
      },
      posts: { columns: { author: "ref users required cascade", body: "text" } },
      ...(opts.restrict === false ? {} : { invoices: { columns: { owner: "ref users restrict", amount: "int" } } }),
    },
    mail: { provider: "capture", from: "Demo <no-reply@myapp.com>" },
    ...(opts.auth ? { auth: opts.auth } : {}),
  };
}

/** Delivers the outbox and returns the link token of the last message to `to` whose subject has `subject`. */
export async function lastLinkToken(inst: TestInstance, to: string, subject: string): Promise<string> {
  await inst.outbox.deliver();
  const msgs = inst.mail.messages.filter((m) => m.to === to && m.subject.includes(subject));
  const last = msgs.at(-1);
  if (!last) throw new Error(`no mail "${subject}" to ${to}`);
  const m = /[?&]token=([A-Za-z0-9_-]{43})/.exec(last.text);
  if (!m) throw new Error(`no token link in mail "${last.subject}"`);
  return m[1];
}

export async function accountsInstance(extra: ProjectSpec[] = [], opts: { auth?: Record<string, unknown> } = {}): Promise<TestInstance> {
  return createTestInstance([accountsSpec({ auth: opts.auth }), ...extra]);
}

export function admin(inst: TestInstance, method: string, path: string, body?: unknown, project = "demo"): Promise<TestResponse> {
  return inst.req(method, `/p/${project}/v1${path}`, { body, headers: { "x-admin-key": project === "demo" ? ADMIN_KEY : OTHER_ADMIN_KEY } });
}
