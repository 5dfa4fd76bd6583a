/**
 * Store contract: the JWT secret and signing-key storage the project loader uses, on both engines
 * (SQLite's synchronous storage behind the same asynchronous shape as PostgreSQL's): one live
 * secret whatever replicas create or rotate at once, a sealed secret refused under another server
 * key, and a signing-key schedule that never gets two successors when replicas advance it at once.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { createJwtSecrets } from "../../../src/storage/sqlite/jwt-secrets.ts";
import { createSigningKeyStore, type RotationPlan } from "../../../src/storage/sqlite/signing-keys.ts";
import { pgJwtSecrets } from "../../../src/storage/postgres/jwt-secrets.ts";
import { pgSigningKeyStore, type PgSigningKeyStore } from "../../../src/storage/postgres/signing-keys.ts";
import { defaultRandomBytes } from "../../../src/crypto/random.ts";
import { DbOpenError } from "../../../src/storage/sqlite/open.ts";
import { ENGINES, NOW_ISO, PROJECT_ID, SEAL_KEY, n, type EngineHarness } from "./admin-engines.ts";

const T0 = 1_767_225_600_000;
const OTHER_KEY = new Uint8Array(32).fill(9);

interface Secrets {
  ensure(nowIso: string): Promise<Uint8Array>;
  rotate(nowIso: string): Promise<Uint8Array>;
}

/** One replica's view of the storage (its own connection). */
interface Replica {
  secrets(sealKey?: Uint8Array): Secrets;
  signingKeys(): PgSigningKeyStore;
  close(): Promise<void>;
}

function sqliteReplica(h: EngineHarness): Replica {
  const db = new Database(h.dbPath!);
  db.exec("PRAGMA busy_timeout = 5000");
  return {
    secrets(sealKey = SEAL_KEY) {
      let s: ReturnType<typeof createJwtSecrets> | null = null;
      const opts = { sealKey, projectId: PROJECT_ID, random: defaultRandomBytes };
      return {
        ensure: async (nowIso) => (s ??= createJwtSecrets(db, { ...opts, nowIso })).current(),
        rotate: async (nowIso) => {
          s ??= createJwtSecrets(db, { ...opts, nowIso });
          s.rotate(nowIso);
          return s.current();
        },
      };
    },
    signingKeys() {
      const k = createSigningKeyStore(db, { sealKey: SEAL_KEY, projectId: PROJECT_ID, alg: "EdDSA" });
      return {
        list: async () => k.list(),
        setUpAtBoot: async (nowMs, ttl) => k.setUpAtBoot(nowMs, ttl),
        advance: async (nowMs, plan) => k.advance(nowMs, plan),
        replaceAll: async (nowMs, ttl) => k.replaceAll(nowMs, ttl),
      };
    },
    close: async () => db.close(),
  };
}

function pgReplica(h: EngineHarness): Replica {
  const sql = new SQL(h.dbUrl!, { max: 3 });
  const ctx = { sql, inTransaction: false, schema: h.pg!.schema };
  return {
    secrets: (sealKey = SEAL_KEY) => pgJwtSecrets(ctx, { sealKey, projectId: PROJECT_ID, random: defaultRandomBytes }),
    signingKeys: () => pgSigningKeyStore(ctx, { sealKey: SEAL_KEY, projectId: PROJECT_ID, alg: "EdDSA" }),
    close: () => sql.close(),
  };
}

const EVERY = 30 * 86_400_000;
const PLAN: RotationPlan = { rotateEveryMs: EVERY, leadMs: 3_600_000, ttlSeconds: 900 };

for (const engine of ENGINES) {
  describe.skipIf(engine.skip !== null)(`JWT secret and signing-key storage (${engine.name})`, () => {
    let h: EngineHarness | null = null;
    const replicas: Replica[] = [];
    afterEach(async () => {
      for (const r of replicas.splice(0)) await r.close();
      await h?.close();
      h = null;
    });
    const setUp = async (count: number): Promise<Replica[]> => {
      h = await engine.open();
      await h.store(); // the project database exists with its internal tables
      for (let i = 0; i < count; i++) replicas.push(engine.name === "sqlite" ? sqliteReplica(h) : pgReplica(h));
      return replicas;
    };
    const live = async (): Promise<number> => n((await h!.query<{ c: unknown }>("SELECT count(*) AS c FROM _jwt_secrets WHERE retired_at IS NULL"))[0]!.c);

    it("replicas ensuring the secret at once share one; rotations at once leave one live secret", async () => {
      const rs = await setUp(3);
      const got = await Promise.all(rs.map((r) => r.secrets().ensure(NOW_ISO)));
      expect(new Set(got.map((s) => Buffer.from(s).toString("hex"))).size).toBe(1);
      expect(got[0]!.length).toBe(32);
      expect(await live()).toBe(1);
      const rotated = await Promise.all(rs.map((r) => r.secrets().rotate(NOW_ISO)));
      expect(await live()).toBe(1);
      const [row] = await h!.query<{ c: unknown }>("SELECT count(*) AS c FROM _jwt_secrets");
      expect(n(row!.c)).toBe(4);
      // The live secret is the last rotation's, and a new reader gets it.
      const current = Buffer.from(await rs[0]!.secrets().ensure(NOW_ISO)).toString("hex");
      expect(rotated.map((s) => Buffer.from(s).toString("hex"))).toContain(current);
      expect(current).not.toBe(Buffer.from(got[0]!).toString("hex"));
    });

    it("a secret sealed under another server key is refused, naming the cause", async () => {
      const rs = await setUp(1);
      await rs[0]!.secrets().ensure(NOW_ISO);
      const err = await rs[0]!.secrets(OTHER_KEY).ensure(NOW_ISO).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DbOpenError);
      expect((err as Error).message).toContain("cannot be opened with this server key");
    });

    it("the signing-key schedule: one key at boot, one successor when due, whatever replicas advance at once", async () => {
      const rs = await setUp(3);
      await Promise.all(rs.map((r) => r.signingKeys().setUpAtBoot(T0, 900)));
      const boot = await rs[0]!.signingKeys().list();
      expect(boot.length).toBe(1);
      expect(boot[0]).toMatchObject({ createdAtMs: T0, signsFromMs: T0, signsUntilMs: null, ttlMaxSeconds: 900 });
      // Not due yet: nothing changes.
      expect(await rs[1]!.signingKeys().advance(T0 + 1000, PLAN)).toBe(false);
      const due = T0 + EVERY - PLAN.leadMs;
      const changed = await Promise.all(rs.map((r) => r.signingKeys().advance(due, PLAN)));
      expect(changed.filter(Boolean).length).toBe(1);
      const keys = await rs[2]!.signingKeys().list();
      expect(keys.length).toBe(2);
      expect(keys[0]!.signsUntilMs).toBe(T0 + EVERY);
      expect(keys[1]).toMatchObject({ createdAtMs: due, signsFromMs: T0 + EVERY, signsUntilMs: null });
      expect(keys[1]!.pair.kid).not.toBe(keys[0]!.pair.kid);
      // Once the old key's last token has expired, it goes.
      expect(await rs[0]!.signingKeys().advance(T0 + EVERY + 900_000, PLAN)).toBe(true);
      expect((await rs[0]!.signingKeys().list()).map((k) => k.pair.kid)).toEqual([keys[1]!.pair.kid]);
      await rs[1]!.signingKeys().replaceAll(T0 + EVERY + 1, 900);
      const replaced = await rs[0]!.signingKeys().list();
      expect(replaced.length).toBe(1);
      expect(replaced[0]!.pair.kid).not.toBe(keys[1]!.pair.kid);
    });
  });
}
