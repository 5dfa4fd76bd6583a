/**
 * The route table (src/modules/route-table.ts): it lists exactly the routes the app registers,
 * every name in it resolves, every rule of the config schema is applied somewhere, and each limit
 * really answers 429 on its route — after malformed requests that counted toward nothing.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { ROUTE_TABLE, type RouteEntry } from "../../src/modules/route-table.ts";
import { projectFileJsonSchema } from "../../src/config/json-schema.ts";
import { createServerMetrics } from "../../src/metrics/server-metrics.ts";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { createTestInstance, type TestInstance, type TestResponse } from "../helpers/instance.ts";
import { PASSWORD, expectError, mailCount, signUp } from "../helpers/auth.ts";
import { accountsSpec } from "../accounts/helpers.ts";

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

const keyOf = (r: { method: string; path: string }): string => `${r.method} ${r.path}`;

/** The rule names of `auth.rate_limits`, read from the project file's JSON Schema. */
function schemaRuleNames(): string[] {
  const root = projectFileJsonSchema(BUILTIN_PLUGINS) as { properties: Record<string, any> };
  // A nullable section is `anyOf: [{type: object, properties}, {type: null}]`.
  const objectOf = (s: any): any => s.properties ? s : s.anyOf?.find((x: any) => x.properties);
  const props = objectOf(objectOf(root.properties.auth)?.properties.rate_limits)?.properties;
  if (!props) throw new Error("no rate_limits properties in the JSON Schema");
  return Object.keys(props);
}

/** `file#export` under src/modules/ -> the exported value. */
async function resolveName(ref: string): Promise<unknown> {
  const [file, name] = ref.split("#");
  const mod = (await import(`../../src/modules/${file}`)) as Record<string, unknown>;
  return mod[name];
}

describe("the route table", () => {
  it("lists exactly the routes the app registers (with /metrics on), each once", async () => {
    inst = await createTestInstance([accountsSpec()], { boot: { metrics: { metrics: createServerMetrics(), token: null } } });
    const registered = inst.booted.app.routes.map(keyOf).sort();
    const listed = ROUTE_TABLE.map(keyOf);
    expect(new Set(listed).size).toBe(listed.length);
    expect(registered.length).toBeGreaterThan(40);
    expect(registered).toEqual([...listed].sort());
  });

  it("names handlers and in-flow counters that exist, and each in-flow function really names its rule", async () => {
    for (const r of ROUTE_TABLE) {
      const handler = await resolveName(r.handler);
      expect({ route: keyOf(r), handler: r.handler, kind: Array.isArray(handler) ? "function" : typeof handler }).toEqual({ route: keyOf(r), handler: r.handler, kind: "function" });
      for (const f of r.inFlow) {
        const fn = await resolveName(f.where);
        expect(typeof fn).toBe("function");
        expect({ where: f.where, names: String(fn).includes(f.rule) }).toEqual({ where: f.where, names: true });
        expect(f.why.length).toBeGreaterThan(20);
      }
    }
  });

  it("applies every rule of the config schema on at least one route (every per-IP rule included)", () => {
    const rules = schemaRuleNames();
    expect(rules).toContain("login_per_ip");
    const perIp = rules.filter((n) => n.endsWith("_per_ip"));
    expect(perIp.length).toBeGreaterThanOrEqual(5);
    const applied = new Set<string>(ROUTE_TABLE.flatMap((r) => [...r.limits.map((l) => l.rule), ...r.inFlow.map((f) => f.rule)]));
    for (const rule of rules) expect({ rule, applied: applied.has(rule) }).toEqual({ rule, applied: true });
    // Nothing in the table that the config does not know.
    for (const rule of applied) expect(rules).toContain(rule);
    // A per-IP rule counted per request is keyed on the IP, a per-user one on the user.
    for (const r of ROUTE_TABLE) {
      for (const l of r.limits) expect({ rule: l.rule, per: l.per }).toEqual({ rule: l.rule, per: l.rule.endsWith("_per_ip") ? "ip" : "user" });
    }
  });

  it("refuses a request without credentials on exactly the routes whose auth asks for them", async () => {
    inst = await createTestInstance([accountsSpec()], { boot: { metrics: { metrics: createServerMetrics(), token: "metrics-token" } } });
    const ids: Record<string, string> = { projectId: "demo", id: crypto.randomUUID(), sid: crypto.randomUUID(), mid: crypto.randomUUID() };
    for (const r of ROUTE_TABLE) {
      const path = r.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => ids[name]);
      const res = await inst.req(r.method, path, r.method === "GET" ? { headers: json } : { body: {}, headers: json });
      const seen = { route: keyOf(r), status: res.status, code: res.body?.error?.code ?? null, location: res.headers.get("location") };
      const want = {
        bearer: { status: 401, code: "AUTH_REQUIRED", location: null },
        "bearer-or-email": { status: 401, code: "AUTH_REQUIRED", location: null }, // require_verified_email is off here
        admin: { status: 401, code: "ADMIN_KEY_REQUIRED", location: null },
        metrics: { status: 401, code: "AUTH_REQUIRED", location: null },
        // A console page without a session: GET goes to sign-in, POST is refused (an HTML page).
        console: r.method === "GET" ? { status: 303, code: null, location: "/p/demo/admin/sign-in" } : { status: 401, code: null, location: null },
        none: null,
      }[r.auth];
      if (want === null) {
        expect({ route: seen.route, refused: seen.status === 401 || seen.status >= 500 }).toEqual({ route: seen.route, refused: false });
      } else {
        expect(seen).toEqual({ route: keyOf(r), ...want });
      }
    }
  });

  it("gives 429 in the OpenAPI document to exactly the routes with a limit", async () => {
    inst = await createTestInstance([accountsSpec()]);
    const doc = (await inst.req("GET", "/p/demo/openapi.json")).body;
    let documented = 0;
    for (const r of ROUTE_TABLE) {
      if (!r.path.startsWith("/p/:projectId/") || r.path.startsWith("/p/:projectId/admin/")) continue;
      const op = doc.paths[r.path.slice("/p/:projectId".length).replace(/:([A-Za-z0-9_]+)/g, "{$1}")]?.[r.method.toLowerCase()];
      if (!op) continue;
      documented++;
      const limited = r.limits.length + r.inFlow.length > 0;
      expect({ route: keyOf(r), has429: "429" in op.responses }).toEqual({ route: keyOf(r), has429: limited });
    }
    expect(documented).toBeGreaterThan(30);
  });
});

// ---- (c) each limit triggers on its route ----

const MAX = 2;
const json = { accept: "application/json" };

interface Scenario {
  readonly auth?: Record<string, unknown>;
  readonly verifyEmail?: boolean;
  /** Requests refused 400 (validation) that must count toward no limit. */
  readonly malformed?: (t: TestInstance, ctx: Ctx) => Promise<TestResponse>;
  /** A well-formed request that counts (answered anything but 429 while under the limit). */
  readonly valid: (t: TestInstance, ctx: Ctx, i: number) => Promise<TestResponse>;
  readonly setup?: (t: TestInstance) => Promise<Ctx>;
  /** For a cap that never answers 429 (SPEC 9.4): checks that it held instead. */
  readonly silent?: (t: TestInstance) => void;
}
type Ctx = { token?: string; refresh?: string; email?: string };

const post = (t: TestInstance, path: string, body: unknown, token?: string) => t.req("POST", `/p/demo${path}`, { body, token });

/** Per-request limits (`limits`), keyed `METHOD path rule`: every one in the table must have a scenario. */
const ROUTE_SCENARIOS: Record<string, Scenario> = {
  "POST /p/:projectId/auth/signup signup_per_ip": {
    malformed: (t) => post(t, "/auth/signup", { email: "not an email", password: PASSWORD }),
    valid: (t, _c, i) => post(t, "/auth/signup", { email: `s${i}@example.com`, password: PASSWORD }),
  },
  "POST /p/:projectId/auth/login login_per_ip": {
    malformed: (t) => post(t, "/auth/login", { email: "ann@example.com" }),
    valid: (t) => post(t, "/auth/login", { email: "ann@example.com", password: "not the password" }),
  },
  "POST /p/:projectId/auth/forgot-password forgot_password_per_ip": {
    malformed: (t) => post(t, "/auth/forgot-password", { email: "ann@example.com" }),
    valid: (t, _c, i) => post(t, "/auth/forgot-password", { email: `f${i}@example.com`, redirect_url: "https://myapp.com/reset" }),
  },
  "POST /p/:projectId/auth/reset-password link_per_ip": {
    malformed: (t) => post(t, "/auth/reset-password", { new_password: PASSWORD }),
    valid: (t) => post(t, "/auth/reset-password", { token: "no-such-token", new_password: PASSWORD }),
  },
  "GET /p/:projectId/auth/verify link_per_ip": {
    malformed: (t) => t.req("GET", "/p/demo/auth/verify", { headers: json }),
    // HEAD (a mail scanner checking the link) counts like GET.
    valid: (t, _c, i) => t.req(i === 0 ? "HEAD" : "GET", "/p/demo/auth/verify?token=no-such-token", { headers: json }),
  },
  "POST /p/:projectId/auth/resend-verification resend_verification_per_ip": {
    auth: { require_verified_email: true },
    verifyEmail: true,
    malformed: (t) => post(t, "/auth/resend-verification", { email: "not an email" }),
    valid: (t, _c, i) => post(t, "/auth/resend-verification", { email: `r${i}@example.com` }),
  },
  "POST /p/:projectId/auth/change-email change_email_per_user": {
    setup: async (t) => ({ token: (await signUp(t, "ann@example.com")).token }),
    // The current address is a bad request too, decided before the limit.
    malformed: (t, c) => post(t, "/auth/change-email", { new_email: "ANN@example.com", password: PASSWORD }, c.token),
    valid: (t, c, i) => post(t, "/auth/change-email", { new_email: `n${i}@example.com`, password: PASSWORD }, c.token),
  },
};

/** Limits counted inside the flow (`inFlow`), keyed `METHOD path rule`: one route per rule. */
const IN_FLOW_SCENARIOS: Record<string, Scenario> = {
  "POST /p/:projectId/auth/login login_failures_per_account": {
    setup: async (t) => (await signUp(t, "ann@example.com"), {}),
    valid: (t, _c, i) => post(t, "/auth/login", { email: "ann@example.com", password: i < MAX ? "not the password" : PASSWORD }),
  },
  "GET /p/:projectId/v1/redirect-origins admin_key_failures_per_ip": {
    valid: (t) => t.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_" + "z".repeat(43) } }),
  },
  "POST /p/:projectId/auth/refresh refresh_per_session": {
    setup: async (t) => ({ refresh: (await signUp(t, "ann@example.com")).refresh_token }),
    valid: async (t, c) => {
      const r = await post(t, "/auth/refresh", { refresh_token: c.refresh });
      if (r.status === 200) c.refresh = r.body.data.refresh_token;
      return r;
    },
  },
  "POST /p/:projectId/auth/resend-verification resend_verification_per_user": {
    verifyEmail: true,
    setup: async (t) => ({ token: (await signUp(t, "ann@example.com")).token }),
    valid: (t, c) => post(t, "/auth/resend-verification", {}, c.token),
  },
  "POST /p/:projectId/auth/forgot-password forgot_password_per_email": {
    setup: async (t) => (await signUp(t, "ann@example.com"), {}),
    valid: (t) => post(t, "/auth/forgot-password", { email: "ann@example.com", redirect_url: "https://myapp.com/reset" }),
    silent: (t) => expect(mailCount(t, "reset_password")).toBe(MAX),
  },
};

function tableEntry(key: string): { entry: RouteEntry; rule: string } {
  const i = key.lastIndexOf(" ");
  const entry = ROUTE_TABLE.find((r) => keyOf(r) === key.slice(0, i));
  if (!entry) throw new Error(`${key.slice(0, i)} is not in the route table`);
  return { entry, rule: key.slice(i + 1) };
}

describe("each limit of the table triggers on its route", () => {
  it("has a scenario for every per-request limit and for every in-flow rule", () => {
    const perRequest = ROUTE_TABLE.flatMap((r) => r.limits.map((l) => `${keyOf(r)} ${l.rule}`)).sort();
    expect(Object.keys(ROUTE_SCENARIOS).sort()).toEqual(perRequest);
    const inFlowRules = [...new Set(ROUTE_TABLE.flatMap((r) => r.inFlow.map((f) => f.rule)))].sort();
    expect(Object.keys(IN_FLOW_SCENARIOS).map((k) => tableEntry(k).rule).sort()).toEqual(inFlowRules);
    for (const key of Object.keys(IN_FLOW_SCENARIOS)) {
      const { entry, rule } = tableEntry(key);
      expect(entry.inFlow.map((f) => f.rule)).toContain(rule as never);
    }
  });

  const cases = [...Object.entries(ROUTE_SCENARIOS), ...Object.entries(IN_FLOW_SCENARIOS)];
  for (const [key, s] of cases) {
    it(key, async () => {
      const { rule } = tableEntry(key);
      const spec = accountsSpec({ auth: { ...s.auth, rate_limits: { [rule]: { max: MAX, window: "1h" } } } });
      if (s.verifyEmail) (spec.tables as any).users.verify_email = true;
      inst = await createTestInstance([spec]);
      const ctx = (await s.setup?.(inst)) ?? {};
      // Malformed requests first, more of them than the limit allows: none of them counts.
      if (s.malformed) {
        for (let i = 0; i < MAX + 2; i++) {
          const r = await s.malformed(inst, ctx);
          expect({ status: r.status, code: String(r.body?.error?.code).startsWith("VALIDATION_") }).toEqual({ status: 400, code: true });
        }
      }
      for (let i = 0; i < MAX; i++) {
        const r = await s.valid(inst, ctx, i);
        expect({ i, status: r.status }).not.toEqual({ i, status: 429 });
        expect(r.status).toBeLessThan(500);
      }
      const over = await s.valid(inst, ctx, MAX);
      if (s.silent) {
        expect(over.status).toBe(200);
        s.silent(inst);
        return;
      }
      expectError(over, 429, "RATE_LIMITED");
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    });
  }
});
