/**
 * Store contract: the `settings` and `keys` groups on both engines (the declared-vs-API rule, key
 * rotation under the AdminGrant rule), and on PostgreSQL the settings version every replica polls.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { sha256Hex } from "../../../src/crypto/digest.ts";
import { ORIGINS_KEY } from "../../../src/storage/settings.ts";
import { pgSettingsVersion } from "../../../src/storage/postgres/settings.ts";
import { ENGINES, type ContractStore, type EngineHarness } from "./admin-engines.ts";

const NOW = "2026-01-01T00:00:00.000Z";
const LATER = "2026-01-01T00:00:05.000Z";

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`settings and keys contract (${engine.name})`, () => {
    let h: EngineHarness | null = null;
    afterEach(async () => {
      await h?.close();
      h = null;
    });
    const open = async (): Promise<EngineHarness> => (h = await engine.open());

    it("sets, reads and removes values; origins round-trip", async () => {
      const s = (await (await open()).store()).ops.settings;
      expect(await s.get("x")).toBeNull();
      await s.setValue("x", "1", NOW);
      expect(await s.get("x")).toEqual({ value: "1", declared: null });
      await s.setValue("x", "2", NOW);
      expect(await s.get("x")).toEqual({ value: "2", declared: null });
      await s.remove("x");
      expect(await s.get("x")).toBeNull();
      expect(await s.redirectOrigins()).toEqual([]);
      await s.setRedirectOrigins(["https://a.io", "https://b.io"], NOW);
      expect(await s.redirectOrigins()).toEqual(["https://a.io", "https://b.io"]);
      expect(await s.get(ORIGINS_KEY)).toEqual({ value: '["https://a.io","https://b.io"]', declared: null });
    });

    it("reconciles: a new declaration wins, an API change stands while the file says the same, no declaration keeps the value", async () => {
      const s = (await (await open()).store()).ops.settings;
      let calls = 0;
      const fallback = () => (calls++, "fb");
      expect(await s.reconcile("k", null, fallback, NOW)).toEqual({ value: "fb", applied: false });
      expect(await s.get("k")).toEqual({ value: "fb", declared: null });
      expect(await s.reconcile("k", "d1", fallback, NOW)).toEqual({ value: "d1", applied: true });
      expect(await s.get("k")).toEqual({ value: "d1", declared: "d1" });
      await s.setValue("k", "api", NOW);
      expect(await s.get("k")).toEqual({ value: "api", declared: "d1" });
      expect(await s.reconcile("k", "d1", fallback, NOW)).toEqual({ value: "api", applied: false });
      expect(await s.reconcile("k", "d2", fallback, NOW)).toEqual({ value: "d2", applied: true });
      expect(await s.reconcile("k", null, fallback, NOW)).toEqual({ value: "d2", applied: false });
      expect(await s.get("k")).toEqual({ value: "d2", declared: null });
      expect(calls).toBe(1);
    });

    it("ensures keys: declared keys are stored as hashes, missing ones generated once and reported once", async () => {
      const k = (await (await open()).store()).ops.keys;
      const first = await k.ensure({ public: "pk_declared" }, NOW);
      expect(Object.keys(first)).toEqual(["admin"]);
      expect(first.admin).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
      expect(await k.storedHash("admin")).toBe(sha256Hex(first.admin!));
      expect(await k.storedHash("public")).toBe(sha256Hex("pk_declared"));
      expect(await k.ensure({ public: "pk_declared" }, NOW)).toEqual({});
      expect(await k.matches("admin", first.admin!)).toBe(true);
      expect(await k.matches("admin", "sk_wrong")).toBe(false);
      // The right hash under the wrong prefix is refused too.
      expect(await k.matches("public", "pk_declared")).toBe(true);
      expect(await k.matches("admin", "pk_declared")).toBe(false);
    });

    it("rotates: the old key stops matching, the new one matches; sequential rotations each replace the key", async () => {
      const k = (await (await open()).store()).ops.keys;
      const { admin: k0 } = await k.ensure({}, NOW);
      const seen = { admin: await k.storedHash("admin"), public: await k.storedHash("public") };
      const { admin: k1 } = await k.rotate(["admin"], NOW, { seen });
      expect(k1).not.toBe(k0);
      expect(await k.matches("admin", k0!)).toBe(false);
      expect(await k.matches("admin", k1!)).toBe(true);
      // Authorized after the first rotation: a new rotation.
      const seen2 = { admin: await k.storedHash("admin"), public: await k.storedHash("public") };
      const { admin: k2 } = await k.rotate(["admin"], NOW, { seen: seen2 });
      expect(k2).not.toBe(k1);
      expect(await k.matches("admin", k2!)).toBe(true);
      // Authorized before the last rotation but arriving after the coalescing window: rotates again.
      const { admin: k3 } = await k.rotate(["admin"], "2026-01-01T00:00:11.000Z", { seen: seen2 });
      expect(k3).not.toBe(k2);
      expect(await k.storedHash("admin")).toBe(sha256Hex(k3!));
    });

    it("8 concurrent rotations authorized with the same key: one rotation, every caller gets the stored key", async () => {
      const harness = await open();
      // SQLite: one process per data dir, so one store; PostgreSQL: spread over 3 replicas.
      const stores: ContractStore[] = engine.name === "postgres" ? [await harness.store(), await harness.store(), await harness.store()] : [await harness.store()];
      const k = stores[0]!.ops.keys;
      await k.ensure({}, NOW);
      const seen = { admin: await k.storedHash("admin"), public: await k.storedHash("public") };
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % stores.length]!.ops.keys.rotate(["admin", "public"], LATER, { seen })));
      const admins = new Set(got.map((g) => g.admin));
      const publics = new Set(got.map((g) => g.public));
      expect(admins.size).toBe(1);
      expect(publics.size).toBe(1);
      expect(await k.storedHash("admin")).toBe(sha256Hex([...admins][0]!));
      expect(await k.storedHash("public")).toBe(sha256Hex([...publics][0]!));
    });

    if (engine.name === "postgres") {
      it("the settings version moves with every key, origins, secret or signing-key change, and only then", async () => {
        const harness = await open();
        const s = await harness.store();
        const version = (): Promise<number> => pgSettingsVersion(harness.pg!.sql, harness.pg!.schema);
        const v0 = await version();
        await s.ops.keys.ensure({}, NOW);
        const v1 = await version();
        expect(v1).toBeGreaterThan(v0);
        await s.ops.outbox.enqueue({ id: "m", template: "verify_email", to: "a@x.io", payload: "{}", nowMs: 1 });
        expect(await version()).toBe(v1);
        await s.ops.settings.setRedirectOrigins(["https://a.io"], NOW);
        const v2 = await version();
        expect(v2).toBeGreaterThan(v1);
        await s.ops.keys.rotate(["admin"], NOW);
        const v3 = await version();
        expect(v3).toBeGreaterThan(v2);
        await harness.query("INSERT INTO _jwt_secrets (secret_enc, created_at) VALUES (?, ?)", [new Uint8Array([1]), NOW]);
        const v4 = await version();
        expect(v4).toBeGreaterThan(v3);
        // A statement that changes no row moves nothing.
        await harness.query("DELETE FROM _signing_keys");
        expect(await version()).toBe(v4);
        await harness.query("INSERT INTO _signing_keys (kid, alg, private_enc, created_at, signs_from, ttl_max_s) VALUES ('k', 'EdDSA', ?, 1, 1, 900)", [new Uint8Array([1])]);
        const v5 = await version();
        expect(v5).toBeGreaterThan(v4);
        await harness.query("DELETE FROM _signing_keys");
        expect(await version()).toBeGreaterThan(v5);
      });
    }
  });
}
