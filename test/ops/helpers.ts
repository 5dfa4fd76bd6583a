/** Project files and clients for the operations tests (reload, metrics, backup) against a real server. */
import { stringify } from "yaml";
import { CHEAP_HASHER } from "../helpers/instance.ts";

/** A project with an auth table, the given extra columns, cheap hashing and no rate limits in the way. */
export function opsProjectYaml(id: string, columns: Record<string, string>, extra: Record<string, unknown> = {}): string {
  return stringify({
    id,
    tables: { users: { auth_table: true, columns: { nick: "string max_length 40", ...columns } } },
    auth: {
      hasher: CHEAP_HASHER,
      rate_limits: { signup_per_ip: "off", login_per_ip: "off", login_failures_per_account: "off" },
    },
    mail: { provider: "console", from: "Ops <ops@localhost>" },
    ...extra,
  });
}

export interface Outcome {
  readonly what: string;
  readonly status: number | null;
  readonly error?: string;
}

/** One request; a network failure (reset, refused) is recorded, never thrown. */
export async function call(base: string, method: string, path: string, opts: { body?: unknown; token?: string } = {}): Promise<{ status: number | null; body: any; error?: string }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  try {
    const r = await fetch(base + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await r.text();
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: r.status, body };
  } catch (e) {
    return { status: null, body: null, error: e instanceof Error ? e.message : String(e) };
  }
}

export async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Parsed JSON log lines of a server's stdout. */
export function logLines(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return {};
      }
    });
}
