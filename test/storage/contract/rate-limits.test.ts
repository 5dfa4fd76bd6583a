/**
 * Store contract, `rateLimits`: fixed-window counters on SQLite and PostgreSQL. 30 concurrent hits
 * of one key from 30 connections get the counts 1..30, no gaps, no duplicates.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { authSpec } from "../../helpers/auth.ts";
import { ENGINES, releaseEngines, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);
const RULE = { max: 3, windowSeconds: 60 };

afterAll(releaseEngines);

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: rateLimits (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (spec = authSpec()): Promise<Harness> => (h = await engine.open(spec));

    it("counts hits in a fixed window, refuses past the max and starts a new window when it ends", async () => {
      const { store } = await open();
      const hits = [];
      for (let i = 0; i < 4; i++) hits.push(await store.rateLimits.hit("login:a", RULE, T0 + i * 1000));
      expect(hits).toEqual([
        { allowed: true, count: 1, retryAfterSeconds: 60 },
        { allowed: true, count: 2, retryAfterSeconds: 59 },
        { allowed: true, count: 3, retryAfterSeconds: 58 },
        { allowed: false, count: 4, retryAfterSeconds: 57 },
      ]);
      expect(await store.rateLimits.hit("login:b", RULE, T0 + 5000)).toMatchObject({ count: 1 });
      expect(await store.rateLimits.hit("login:a", RULE, T0 + 60_000)).toEqual({ allowed: true, count: 1, retryAfterSeconds: 60 });
    });

    it("peeks without counting, takes one hit back, and clears a key", async () => {
      const { store } = await open();
      expect(await store.rateLimits.peek("k:1", RULE, T0)).toEqual({ allowed: true, count: 0, retryAfterSeconds: 1 });
      await store.rateLimits.hit("k:1", RULE, T0);
      await store.rateLimits.hit("k:1", RULE, T0);
      expect(await store.rateLimits.peek("k:1", RULE, T0 + 1000)).toEqual({ allowed: true, count: 2, retryAfterSeconds: 59 });
      await store.rateLimits.hit("k:1", RULE, T0 + 1000);
      // A peek says whether one more would pass: at the max, it would not.
      expect(await store.rateLimits.peek("k:1", RULE, T0 + 1000)).toMatchObject({ allowed: false, count: 3 });
      await store.rateLimits.undo("k:1");
      expect(await store.rateLimits.peek("k:1", RULE, T0 + 1000)).toMatchObject({ allowed: true, count: 2 });
      // An ended window peeks as empty.
      expect((await store.rateLimits.peek("k:1", RULE, T0 + 60_000)).count).toBe(0);
      await store.rateLimits.clear("k:1");
      await store.rateLimits.undo("k:1");
      expect((await store.rateLimits.peek("k:1", RULE, T0 + 1000)).count).toBe(0);
      expect(await store.rateLimits.hit("k:1", RULE, T0 + 1000)).toMatchObject({ count: 1 });
    });

    it("prunes each rule's counters by its own window, unknown keys after 31 days", async () => {
      const { store, scalar } = await open(authSpec({ auth: { rate_limits: { login_per_ip: { max: 5, window: "1m" }, signup_per_ip: { max: 5, window: "1h" } } } }));
      await store.rateLimits.hit("login_per_ip:a", RULE, T0);
      await store.rateLimits.hit("signup_per_ip:a", RULE, T0);
      await store.rateLimits.hit("other:a", RULE, T0);
      expect(await store.rateLimits.prune(T0 + 59_999)).toBe(0);
      expect(await store.rateLimits.prune(T0 + 60_000)).toBe(1);
      expect(await store.rateLimits.prune(T0 + 3_600_000)).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _rate_limits WHERE key = 'other:a'")).toBe(1);
      expect(await store.rateLimits.prune(T0 + 31 * 86_400_000 + 1)).toBe(1);
      expect(await scalar("SELECT count(*) AS n FROM _rate_limits")).toBe(0);
    });

    it("30 concurrent hits of one key from 30 connections count 1..30, no gaps, no duplicates", async () => {
      const { replicas, scalar } = await open();
      const stores = await replicas(30);
      const hits = await Promise.all(stores.map((r) => r.rateLimits.hit("login:x", { max: 10, windowSeconds: 60 }, T0)));
      expect(hits.map((x) => x.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(hits.filter((x) => x.allowed).length).toBe(10);
      expect(await scalar("SELECT count FROM _rate_limits WHERE key = 'login:x'")).toBe(30);
    });
  });
}
