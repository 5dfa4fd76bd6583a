/**
 * Store contract: housekeeping's window over the rate-limit counters (`rateLimits.pruneWindow`) on
 * both engines: a counter goes once its own rule's window has ended (and an unknown key after 31
 * days), never earlier; 3 stores walking the counters at once leave what one store leaves, each
 * counter counted once.
 */
import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { authSpec } from "../../helpers/auth.ts";
import { ENGINES, releaseEngines, type ContractStore, type Harness } from "./engines.ts";

const T0 = Date.UTC(2026, 0, 15, 12);
const DAY = 86_400_000;

afterAll(releaseEngines);

async function walk(s: ContractStore, nowMs: number, window: number): Promise<number> {
  let after = "";
  let deleted = 0;
  for (;;) {
    const step = await s.rateLimits.pruneWindow(nowMs, after, window);
    if (step === null) return deleted;
    expect(step.examined).toBeLessThanOrEqual(window);
    deleted += step.deleted;
    after = step.last;
  }
}

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`store contract: rate-limit windows (${engine.name})`, () => {
    let h: Harness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });

    it("deletes each counter once its window has ended, from 3 stores at once", async () => {
      h = await engine.open(authSpec());
      const rules = h.config.auth.rateLimits;
      const name = "login_per_ip" as const;
      const windowMs = rules[name]!.windowSeconds * 1000;
      // 40 counters of one rule: even ones started a full window ago (ended), odd ones just now.
      for (let i = 0; i < 40; i++) {
        const start = i % 2 === 0 ? T0 - windowMs : T0 - 1;
        await h.exec("INSERT INTO _rate_limits (key, window_start, count) VALUES (?1, ?2, 1)", [`${name}:10.0.0.${i}`, start]);
      }
      // Unknown keys: one 32 days old (goes), one 30 days old (stays).
      await h.exec("INSERT INTO _rate_limits (key, window_start, count) VALUES (?1, ?2, 1)", ["gone_rule:x", T0 - 32 * DAY]);
      await h.exec("INSERT INTO _rate_limits (key, window_start, count) VALUES (?1, ?2, 1)", ["gone_rule:y", T0 - 30 * DAY]);
      const stores = await h.replicas(3);
      const deleted = await Promise.all(stores.map((s) => walk(s, T0, 6)));
      expect(deleted.reduce((a, b) => a + b, 0)).toBe(21);
      expect(await h.scalar("SELECT count(*) FROM _rate_limits")).toBe(21);
      expect(await h.scalar("SELECT count(*) FROM _rate_limits WHERE window_start = ?1", [T0 - 1])).toBe(20);
      expect(await h.scalar("SELECT count(*) FROM _rate_limits WHERE key = 'gone_rule:y'")).toBe(1);
      expect(await walk(h.store, T0, 6)).toBe(0);
    }, 30_000);
  });
}
