import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type ProjectSpec, type TestInstance } from "../helpers/instance.ts";
import { dbOf } from "../helpers/auth.ts";
import { SQL } from "bun";
import { projectSchemaName } from "../../src/storage/postgres/url.ts";

const PINNED_ADMIN = "sk_" + "a".repeat(40);
const PINNED_ADMIN_2 = "sk_" + "b".repeat(40);

function spec(extra: Partial<ProjectSpec> = {}): ProjectSpec {
  return {
    id: "demo",
    allowed_redirect_origins: ["https://myapp.com"],
    tables: { users: { auth_table: true, columns: { display_name: "string" } } },
    ...extra,
  };
}

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

function adminKeyOf(t: TestInstance): string {
  const k = t.booted.generatedKeys.get("demo")?.admin;
  if (!k) throw new Error("no generated admin key");
  return k;
}

describe("admin key", () => {
  it("generates sk_/pk_ keys at first boot and stores only their hashes", async () => {
    inst = await createTestInstance([spec()]);
    const keys = inst.booted.generatedKeys.get("demo");
    expect(keys?.admin).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(keys?.public).toMatch(/^pk_[A-Za-z0-9_-]{43}$/);
    const db = dbOf(inst);
    const values = (db.query("SELECT value, declared FROM _settings").all() as { value: string; declared: string | null }[])
      .flatMap((r) => [r.value, r.declared ?? ""]).join("\n");
    expect(values).not.toContain(keys!.admin!);
    expect(values).not.toContain(keys!.public!);
  });

  it("does not generate new keys on a restart", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    await inst.restart();
    expect(inst.booted.generatedKeys.size).toBe(0);
    const r = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
    expect(r.status).toBe(200);
  });

  const cases: [string, Record<string, string>, number, string][] = [
    ["no key", {}, 401, "ADMIN_KEY_REQUIRED"],
    ["an empty X-Admin-Key", { "x-admin-key": "" }, 401, "ADMIN_KEY_REQUIRED"],
    ["a wrong sk_ key", { "x-admin-key": "sk_" + "z".repeat(43) }, 401, "ADMIN_KEY_INVALID"],
    ["a user-token-like value", { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x" }, 401, "ADMIN_KEY_INVALID"],
  ];
  for (const [name, headers, status, code] of cases) {
    it(`answers ${status} ${code} for ${name}`, async () => {
      inst = await createTestInstance([spec()]);
      const r = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
    });
  }

  it("refuses the pk_ key as an admin key", async () => {
    inst = await createTestInstance([spec()]);
    const pk = inst.booted.generatedKeys.get("demo")!.public!;
    const r = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": pk } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("ADMIN_KEY_INVALID");
  });

  it("accepts the key as Authorization: Bearer with any scheme case, never from the URL", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const r = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { authorization: `${scheme} ${key}` } });
      expect(r.status).toBe(200);
    }
    const q = await inst.req("GET", `/p/demo/v1/redirect-origins?admin_key=${key}&key=${key}`);
    expect(q.status).toBe(401);
    expect(q.body.error.code).toBe("ADMIN_KEY_REQUIRED");
  });

  it("limits wrong admin keys per IP with 429 and Retry-After, and never locks out the right key", async () => {
    inst = await createTestInstance([spec({ auth: { rate_limits: { admin_key_failures_per_ip: { max: 3, window: "15m" } } } })]);
    const key = adminKeyOf(inst);
    for (let i = 0; i < 3; i++) {
      const r = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_wrong" }, ip: "10.0.0.9" });
      expect(r.body.error.code).toBe("ADMIN_KEY_INVALID");
    }
    const blocked = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_wrong" }, ip: "10.0.0.9" });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe("RATE_LIMITED");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    // The operator behind the same IP (a shared proxy) still gets in.
    const right = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, ip: "10.0.0.9" });
    expect(right.status).toBe(200);
    const other = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_wrong" }, ip: "10.0.0.10" });
    expect(other.body.error.code).toBe("ADMIN_KEY_INVALID");
    inst.clock.advance(15 * 60 * 1000);
    const later = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_wrong" }, ip: "10.0.0.9" });
    expect(later.body.error.code).toBe("ADMIN_KEY_INVALID");
  });
});

describe("POST /v1/rotate-keys", () => {
  it("makes the old admin key fail at once and the new one work", async () => {
    inst = await createTestInstance([spec()]);
    const old = adminKeyOf(inst);
    const r = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": old }, body: { admin: true } });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.data.admin_key).toMatch(/^sk_/);
    expect(r.body.data.public_key).toBeUndefined();
    const again = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": old } });
    expect(again.body.error.code).toBe("ADMIN_KEY_INVALID");
    const fresh = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": r.body.data.admin_key } });
    expect(fresh.status).toBe(200);
  });

  it("rotates both keys with {both: true} and survives a restart", async () => {
    inst = await createTestInstance([spec()]);
    const r = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": adminKeyOf(inst) }, body: { both: true } });
    expect(r.body.data.admin_key).toMatch(/^sk_/);
    expect(r.body.data.public_key).toMatch(/^pk_/);
    await inst.restart();
    const ok = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": r.body.data.admin_key } });
    expect(ok.status).toBe(200);
  });

  const bad: [string, string | undefined, unknown, string][] = [
    ["an empty body", "", undefined, "VALIDATION_REQUIRED_FIELD"],
    ["{}", undefined, {}, "VALIDATION_REQUIRED_FIELD"],
    ["{admin: false}", undefined, { admin: false }, "VALIDATION_REQUIRED_FIELD"],
    ["{admin: \"yes\"}", undefined, { admin: "yes" }, "VALIDATION_INVALID_FIELD"],
    ["an unknown field", undefined, { admin: true, extra: 1 }, "VALIDATION_UNKNOWN_FIELD"],
    ["malformed JSON", "{admin:", undefined, "VALIDATION_MALFORMED_JSON"],
    ["a JSON array", "[true]", undefined, "VALIDATION_MALFORMED_JSON"],
  ];
  for (const [name, rawBody, body, code] of bad) {
    it(`answers 400 ${code} for ${name}`, async () => {
      inst = await createTestInstance([spec()]);
      const key = adminKeyOf(inst);
      const r = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": key }, rawBody, body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe(code);
      const still = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
      expect(still.status).toBe(200);
    });
  }
});

describe("redirect origins", () => {
  it("GET returns the declared origins and PUT stores them normalized", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    const g = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
    expect(g.body).toEqual({ data: { allowed_redirect_origins: ["https://myapp.com"] } });
    const p = await inst.req("PUT", "/p/demo/v1/redirect-origins", {
      headers: { "x-admin-key": key },
      body: { allowed_redirect_origins: ["HTTPS://App.Example.com:443/", "http://localhost:5173"] },
    });
    expect(p.status).toBe(200);
    expect(p.body.data.allowed_redirect_origins).toEqual(["https://app.example.com", "http://localhost:5173"]);
  });

  const badEntries = ["*", "https://a.com/path", "http://a.com", "https://*.a.com", "https://a.com?x=1", "https://u@a.com", "https://a.com#f", "javascript:alert(1)", "a.com", ""];
  for (const entry of badEntries) {
    it(`PUT refuses the entry ${JSON.stringify(entry)} with VALIDATION_INVALID_FIELD and keeps the old list`, async () => {
      inst = await createTestInstance([spec()]);
      const key = adminKeyOf(inst);
      const p = await inst.req("PUT", "/p/demo/v1/redirect-origins", {
        headers: { "x-admin-key": key },
        body: { allowed_redirect_origins: ["https://ok.com", entry] },
      });
      expect(p.status).toBe(400);
      expect(p.body.error.code).toBe("VALIDATION_INVALID_FIELD");
      expect(p.body.error.field).toBe("allowed_redirect_origins[1]");
      const g = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
      expect(g.body.data.allowed_redirect_origins).toEqual(["https://myapp.com"]);
    });
  }

  it("PUT without the field is VALIDATION_REQUIRED_FIELD and a non-array is VALIDATION_INVALID_FIELD", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    const a = await inst.req("PUT", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, body: {} });
    expect(a.body.error.code).toBe("VALIDATION_REQUIRED_FIELD");
    const b = await inst.req("PUT", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, body: { allowed_redirect_origins: "https://a.com" } });
    expect(b.body.error.code).toBe("VALIDATION_INVALID_FIELD");
  });
});

describe("declared vs API-changed values across restarts (SPEC 2)", () => {
  it("an API change to the origins survives a restart with an unchanged file", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    await inst.req("PUT", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, body: { allowed_redirect_origins: ["https://api-set.com"] } });
    await inst.restart();
    const g = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
    expect(g.body.data.allowed_redirect_origins).toEqual(["https://api-set.com"]);
  });

  it("a changed declaration in the file takes effect over an earlier API change", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    await inst.req("PUT", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, body: { allowed_redirect_origins: ["https://api-set.com"] } });
    await inst.restart([spec({ allowed_redirect_origins: ["https://from-git.com"] })]);
    const g = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
    expect(g.body.data.allowed_redirect_origins).toEqual(["https://from-git.com"]);
    // ...and a later API change stands again until the declaration changes.
    await inst.req("PUT", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, body: { allowed_redirect_origins: ["https://api-2.com"] } });
    await inst.restart();
    const g2 = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } });
    expect(g2.body.data.allowed_redirect_origins).toEqual(["https://api-2.com"]);
  });

  it("a pinned admin key works, an API rotation stands across restarts, and a new pinned key in the file wins", async () => {
    inst = await createTestInstance([spec({ keys: { admin: PINNED_ADMIN } })]);
    expect(inst.booted.generatedKeys.get("demo")?.admin).toBeUndefined();
    expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": PINNED_ADMIN } })).status).toBe(200);
    const rot = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": PINNED_ADMIN }, body: { admin: true } });
    const rotated = rot.body.data.admin_key as string;
    await inst.restart();
    expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": PINNED_ADMIN } })).status).toBe(401);
    expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": rotated } })).status).toBe(200);
    await inst.restart([spec({ keys: { admin: PINNED_ADMIN_2 } })]);
    expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": rotated } })).status).toBe(401);
    expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": PINNED_ADMIN_2 } })).status).toBe(200);
  });
});

describe("admin-key failure limit under concurrency", () => {
  it("30 parallel wrong keys: the counter equals the attempts and at most the limit get 401", async () => {
    inst = await createTestInstance([spec({ auth: { rate_limits: { admin_key_failures_per_ip: { max: 5, window: "15m" } } } })]);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => inst!.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_" + "w".repeat(43) }, ip: "10.9.9.9" })),
    );
    const codes = answers.map((a) => a.body.error.code);
    expect(codes.filter((c) => c === "ADMIN_KEY_INVALID").length).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === "ADMIN_KEY_INVALID").length + codes.filter((c) => c === "RATE_LIMITED").length).toBe(30);
    const right = await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": adminKeyOf(inst) }, ip: "10.9.9.9" });
    expect(right.status).toBe(200);
  });

  it("20 wrong keys and the right one, all at once from one IP: the right one is answered 200", async () => {
    inst = await createTestInstance([spec()]);
    const key = adminKeyOf(inst);
    const wrong = Array.from({ length: 25 }, () => inst!.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": "sk_" + "w".repeat(43) }, ip: "10.9.9.9" }));
    const answers = await Promise.all([...wrong, inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key }, ip: "10.9.9.9" })]);
    expect(answers.at(-1)?.status).toBe(200);
    expect(answers.slice(0, -1).filter((a) => a.status === 429).length).toBe(5);
  });
});

/**
 * PostgreSQL: holds the advisory lock of the project's key rotations (src/storage/postgres/keys.ts)
 * from a connection of the test's own; `releaseWhenWaiting(n)` lets go once n transactions wait on it.
 */
async function holdKeyRotations(databaseUrl: string): Promise<{ releaseWhenWaiting(n: number): Promise<void> }> {
  const sql = new SQL(databaseUrl, { max: 1 });
  const lock = `latchkey keys ${projectSchemaName("demo")}`;
  await sql`SELECT pg_advisory_lock(hashtext(${lock}))`;
  return {
    async releaseWhenWaiting(n) {
      try {
        for (const deadline = Date.now() + 10_000; ; await Bun.sleep(10)) {
          const [{ waiting }] = await sql`SELECT count(*)::int AS waiting FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
          if (waiting >= n) break;
          if (Date.now() > deadline) throw new Error(`only ${waiting} of ${n} rotations reached the lock`);
        }
      } finally {
        await sql`SELECT pg_advisory_unlock(hashtext(${lock}))`;
        await sql.close();
      }
    },
  };
}

describe("concurrent rotate-keys", () => {
  const kindsOf = (body: { admin?: boolean; public?: boolean; both?: boolean }): ("admin" | "public")[] =>
    body.both ? ["admin", "public"] : body.admin ? ["admin"] : ["public"];
  for (const body of [{ admin: true }, { public: true }, { both: true }]) {
    it(`answers every one of 8 parallel ${JSON.stringify(body)} rotations with the key that is stored afterwards`, async () => {
      // All 8 are authorized before the first rotation lands, so each may answer 200. In process on
      // SQLite they are by themselves (the reads are synchronous). On PostgreSQL a fast request could
      // rotate before a slow one is authorized (which then rightly gets 401): the test holds the
      // advisory lock every rotation takes until all 8 wait on it (a connection each, hence serve's
      // pool of 10), then lets them go.
      inst = await createTestInstance([spec({ tables: { users: { auth_table: true, columns: { display_name: "string" } } } })], { poolSize: 10 });
      const key = adminKeyOf(inst);
      const held = inst.database ? await holdKeyRotations(inst.database.url) : null;
      const pending = Promise.all(
        Array.from({ length: 8 }, () => inst!.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": key }, body })),
      );
      if (held) await held.releaseWhenWaiting(8);
      const answers = await pending;
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      for (const kind of kindsOf(body)) {
        const returned = new Set(answers.map((a) => a.body.data[`${kind}_key`] as string));
        expect(returned.size).toBe(1);
        const [only] = [...returned];
        if (kind === "admin") {
          expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": only } })).status).toBe(200);
          expect((await inst.req("GET", "/p/demo/v1/redirect-origins", { headers: { "x-admin-key": key } })).status).toBe(401);
        } else {
          expect(inst.booted.projects.get("demo")!.keys.matches("public", only)).toBe(true);
        }
      }
    });
  }

  it("a rotation after the earlier one finished replaces the key again (no coalescing across requests that did not race)", async () => {
    inst = await createTestInstance([spec()]);
    const first = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": adminKeyOf(inst) }, body: { public: true } });
    const second = await inst.req("POST", "/p/demo/v1/rotate-keys", { headers: { "x-admin-key": adminKeyOf(inst) }, body: { public: true } });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.data.public_key).not.toBe(first.body.data.public_key);
    expect(inst.booted.projects.get("demo")!.keys.matches("public", second.body.data.public_key)).toBe(true);
  });
});
