import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { createServerMetrics } from "../../src/metrics/server-metrics.ts";

let inst: TestInstance | null = null;
afterEach(async () => {
  await inst?.close();
  inst = null;
});

const PASSWORD = "correct horse battery";

describe("metrics of storage and outbox", () => {
  it("counts a 503 for a busy database and shows queued mail as pending in the outbox gauge", async () => {
    const metrics = createServerMetrics();
    inst = await createTestInstance(
      [{ id: "demo", tables: { users: { auth_table: true, verify_email: true, columns: {} } }, mail: { provider: "capture", from: "D <d@localhost>" } }],
      { boot: { metrics: { metrics, token: null } } },
    );
    const scrape = async (): Promise<string> => {
      const r = await inst!.req("GET", "/metrics");
      expect(r.status).toBe(200);
      return r.text;
    };
    expect(await scrape()).not.toContain("latchkey_storage_busy_total{");

    // No background sender runs here: each verification mail stays pending.
    for (const email of ["a@example.com", "b@example.com"]) {
      expect((await inst.req("POST", "/p/demo/auth/signup", { body: { email, password: PASSWORD } })).status).toBe(201);
    }
    expect(await scrape()).toContain('latchkey_outbox_messages{project="demo",state="pending"} 2\n');

    const p = inst.booted.projects.get("demo")!;
    p.db.exec("PRAGMA busy_timeout = 50");
    const other = new Database(join(inst.dataDir, "demo.db"));
    other.exec("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE");
    try {
      const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "busy@example.com", password: PASSWORD } });
      expect(r.status).toBe(503);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    // Request metrics are recorded once the response has gone out (onAfterResponse): poll briefly.
    let text = await scrape();
    for (let i = 0; i < 100 && !text.includes('status="503"} 1'); i++) {
      await Bun.sleep(10);
      text = await scrape();
    }
    expect(text).toContain('latchkey_storage_busy_total{project="demo"} 1\n');
    expect(text).toContain('latchkey_http_requests_total{project="demo",route="/p/:projectId/auth/signup",method="POST",status="503"} 1\n');
    expect(text).toContain('latchkey_http_requests_total{project="demo",route="/p/:projectId/auth/signup",method="POST",status="201"} 2\n');
  });

  it("has no /metrics route without --metrics", async () => {
    inst = await createTestInstance([{ id: "demo", tables: { users: { auth_table: true, columns: {} } } }]);
    const r = await inst.req("GET", "/metrics");
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("NOT_FOUND");
  });
});
