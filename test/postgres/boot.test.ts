/**
 * Loading a project on PostgreSQL (src/storage/postgres/project-db.ts) when replicas boot it at
 * once: ten loaders on ten connections race the boot writes of a new project; exactly one reports
 * generated keys, exactly one JWT secret is in force, and every loader reads the same snapshot.
 * A second boot with keys pinned in the file takes the file's keys and generates none.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProjects, formatConfigIssue } from "../../src/config/load.ts";
import type { ProjectConfig } from "../../src/config/types.ts";
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { defaultRandomBytes } from "../../src/crypto/random.ts";
import { sha256Hex } from "../../src/crypto/digest.ts";
import { applyPostgresSchema } from "../../src/storage/postgres/schema.ts";
import { bootPgProject, bootPgWrites, readPgSnapshot } from "../../src/storage/postgres/project-db.ts";
import { createPgProjectStore } from "../../src/storage/postgres/project-store.ts";
import { pgSigningKeyStore } from "../../src/storage/postgres/signing-keys.ts";
import { pgJwtSecrets } from "../../src/storage/postgres/jwt-secrets.ts";
import { createTestDatabase, PG_SKIP_REASON, type TestDatabase } from "../helpers/postgres.ts";

const JWT_SEAL = new Uint8Array(32).fill(3);
const KEY_SEAL = new Uint8Array(32).fill(4);
const SIGNING_SEAL = new Uint8Array(32).fill(5);
const NOW = "2026-01-01T00:00:00.000Z";

let database: TestDatabase | null = null;
const pools: SQL[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  await database?.drop();
  database = null;
});

function configOf(extra = ""): ProjectConfig {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-pgboot-"));
  try {
    writeFileSync(join(dir, "demo-app.yaml"), `id: demo-app\ntables:\n  users:\n    auth_table: true\n${extra}`);
    const { projects, issues } = loadProjects([dir], { env: {}, registry: BUILTIN_PLUGINS });
    if (issues.length) throw new Error(issues.map(formatConfigIssue).join("\n"));
    return projects[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function boot(sql: SQL, config: ProjectConfig) {
  return bootPgProject({ sql, config, now: Date.now, random: defaultRandomBytes, sealKey: KEY_SEAL, jwtSealKey: JWT_SEAL, signingSealKey: SIGNING_SEAL }, NOW);
}

describe.skipIf(PG_SKIP_REASON !== null)("loading a project on PostgreSQL", () => {
  it("ten replicas booting a new project at once: one generates the keys, one JWT secret, one snapshot", async () => {
    database = await createTestDatabase();
    const config = configOf();
    const replicas = Array.from({ length: 10 }, () => {
      const pool = new SQL(database!.url, { max: 2 });
      pools.push(pool);
      return pool;
    });
    // Whole loads at once: the schema is created once (one history row) and one loader generates.
    const results = await Promise.all(replicas.map((sql) => boot(sql, config)));
    const generated = results.filter((r) => r.generatedKeys.admin || r.generatedKeys.public);
    expect(generated.length).toBe(1);
    const history = (await database.sql`SELECT count(*)::int AS n FROM latchkey_demo_app._schema_history WHERE table_name = 'users'`) as { n: number }[];
    expect(history[0]!.n).toBe(1);
    const keys = generated[0]!.generatedKeys;
    expect(keys.admin).toStartWith("sk_");
    expect(keys.public).toStartWith("pk_");
    const secrets = (await database.sql`SELECT count(*)::int AS n FROM latchkey_demo_app._jwt_secrets WHERE retired_at IS NULL`) as { n: number }[];
    expect(secrets[0]!.n).toBe(1);
    const snapshots = await Promise.all(replicas.map((sql) => readPgSnapshot(sql, "demo-app", JWT_SEAL)));
    for (const s of snapshots) {
      expect(s.keyHashes.public).toBe(sha256Hex(keys.public!));
      expect(s.keyHashes.admin).toBe(sha256Hex(keys.admin!));
      expect(Buffer.from(s.jwtSecret).equals(Buffer.from(snapshots[0]!.jwtSecret))).toBe(true);
    }
    // Another server key cannot open the secret: the project does not load (never a new secret).
    await expect(readPgSnapshot(replicas[0]!, "demo-app", new Uint8Array(32).fill(9))).rejects.toThrow("cannot be opened with this server key");
  }, 60_000);

  it("the boot writes raced from ten connections (the schema in place, no schema lock in between): one writer of keys and secret", async () => {
    database = await createTestDatabase();
    const config = configOf();
    await applyPostgresSchema(database.sql, config.id, config.tables, { confirmDestructive: false, nowIso: NOW });
    const replicas = Array.from({ length: 10 }, () => {
      const pool = new SQL(database!.url, { max: 1 });
      pools.push(pool);
      return pool;
    });
    await Promise.all(replicas.map((sql) => sql`SELECT 1`)); // every connection open before the race
    const ctx = (sql: SQL) => ({ sql, config, now: Date.now, random: defaultRandomBytes, sealKey: KEY_SEAL, jwtSealKey: JWT_SEAL, signingSealKey: SIGNING_SEAL });
    const generated = (await Promise.all(replicas.map((sql) => bootPgWrites(ctx(sql), NOW)))).filter((r) => r.generatedKeys.admin || r.generatedKeys.public);
    expect(generated.length).toBe(1);
    const secrets = (await database.sql`SELECT count(*)::int AS n FROM latchkey_demo_app._jwt_secrets`) as { n: number }[];
    expect(secrets[0]!.n).toBe(1);
  }, 60_000);

  it("keys pinned in the file win on every replica and nothing is generated; origins come from the file", async () => {
    database = await createTestDatabase();
    const admin = `sk_${"a".repeat(43)}`;
    const pub = `pk_${"b".repeat(43)}`;
    const config = configOf(`keys:\n  admin: ${admin}\n  public: ${pub}\nallowed_redirect_origins: ["https://app.example.com"]\n`);
    const results = await Promise.all([boot(database.sql, config), boot(database.sql, config)]);
    for (const r of results) expect(r.generatedKeys).toEqual({});
    const s = await readPgSnapshot(database.sql, "demo-app", JWT_SEAL);
    expect(s.keyHashes).toEqual({ admin: sha256Hex(admin), public: sha256Hex(pub) });
    expect(s.origins).toEqual(["https://app.example.com"]);
  }, 60_000);

  it("six replicas loading a switched signing algorithm at once: one switch (one secret rotation, one key pair), reported once", async () => {
    database = await createTestDatabase();
    const count = async (text: string): Promise<number> => ((await database!.sql.unsafe(text)) as { n: number }[])[0]!.n;
    const setting = async (): Promise<string> => ((await database!.sql.unsafe(`SELECT value FROM latchkey_demo_app._settings WHERE key = 'signing.algorithm'`)) as { value: string }[])[0]!.value;
    await boot(database.sql, configOf()); // HS256, the default
    expect(await setting()).toBe("HS256");
    const replicas = Array.from({ length: 6 }, () => {
      const pool = new SQL(database!.url, { max: 2 });
      pools.push(pool);
      return pool;
    });
    const ed = configOf("auth:\n  signing: { algorithm: EdDSA }\n");
    const toEd = await Promise.all(replicas.map((sql) => boot(sql, ed)));
    expect(toEd.map((r) => r.switchedFrom).sort()).toEqual(["HS256", null, null, null, null, null]);
    expect(await setting()).toBe("EdDSA");
    expect(await count(`SELECT count(*)::int AS n FROM latchkey_demo_app._jwt_secrets`)).toBe(2); // the first one, retired once
    expect(await count(`SELECT count(*)::int AS n FROM latchkey_demo_app._jwt_secrets WHERE retired_at IS NULL`)).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM latchkey_demo_app._signing_keys WHERE alg = 'EdDSA'`)).toBe(1);
    // Every replica's snapshot holds that one key pair.
    const keyStore = (sql: SQL) => pgSigningKeyStore({ sql, inTransaction: false, schema: "latchkey_demo_app" }, { sealKey: SIGNING_SEAL, projectId: "demo-app", alg: "EdDSA" });
    const snaps = await Promise.all(replicas.map((sql) => readPgSnapshot(sql, "demo-app", JWT_SEAL, keyStore(sql))));
    for (const snap of snaps) expect(snap.signingKeys.map((k) => k.pair.kid)).toEqual([snaps[0]!.signingKeys[0]!.pair.kid]);

    // And back to HS256: the key pairs are deleted, the secret rotated once more.
    const back = await Promise.all(replicas.map((sql) => boot(sql, configOf())));
    expect(back.map((r) => r.switchedFrom).sort()).toEqual(["EdDSA", null, null, null, null, null]);
    expect(await setting()).toBe("HS256");
    expect(await count(`SELECT count(*)::int AS n FROM latchkey_demo_app._jwt_secrets`)).toBe(3);
    expect(await count(`SELECT count(*)::int AS n FROM latchkey_demo_app._signing_keys`)).toBe(0);
  }, 60_000);
});

describe.skipIf(PG_SKIP_REASON !== null)("boot writes racing a running replica's rotations", () => {
  it("a reload's boot writes and another replica's key-schedule steps and secret rotations, 60 times at once: never a deadlock", async () => {
    database = await createTestDatabase();
    const ed = (extra = "") => configOf(`auth:\n  signing: { algorithm: EdDSA }\n${extra}`);
    const booting = new SQL(database.url, { max: 2 });
    const running = new SQL(database.url, { max: 4 });
    pools.push(booting, running);
    await boot(booting, ed());
    const schema = "latchkey_demo_app";
    const schedule = pgSigningKeyStore({ sql: running, inTransaction: false, schema }, { sealKey: SIGNING_SEAL, projectId: "demo-app", alg: "EdDSA" });
    const secrets = pgJwtSecrets({ sql: running, inTransaction: false, schema }, { sealKey: JWT_SEAL, projectId: "demo-app", random: defaultRandomBytes });
    const failures: string[] = [];
    let nowMs = Date.now();
    for (let i = 0; i < 60; i++) {
      nowMs += 3_600_000; // every step is due: each one adds a successor
      const ctx = { sql: booting, config: ed(`allowed_redirect_origins: ["https://app${i}.example.com"]\n`), now: Date.now, random: defaultRandomBytes, sealKey: KEY_SEAL, jwtSealKey: JWT_SEAL, signingSealKey: SIGNING_SEAL };
      const settled = await Promise.allSettled([
        bootPgWrites(ctx, NOW), // writes the origins (the settings version moves), then sets up the key schedule
        schedule.advance(nowMs, { rotateEveryMs: 60_000, leadMs: 1_000, ttlSeconds: 1 }),
        secrets.rotate(NOW),
      ]);
      for (const r of settled) if (r.status === "rejected") failures.push(String(r.reason));
    }
    expect(failures).toEqual([]);
    const live = (await database.sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}._signing_keys WHERE signs_until IS NULL`)) as { n: number }[];
    expect(live[0]!.n).toBe(1);
  }, 120_000);
});

describe.skipIf(PG_SKIP_REASON !== null)("housekeeping of rate-limit counters on PostgreSQL", () => {
  it("prunes ended counters a window at a time and keeps live ones", async () => {
    database = await createTestDatabase();
    const config = configOf();
    await applyPostgresSchema(database.sql, config.id, config.tables, { confirmDestructive: false, nowIso: NOW });
    const store = createPgProjectStore({ sql: database.sql, config, now: Date.now, random: defaultRandomBytes, sealKey: KEY_SEAL });
    const rule = config.auth.rateLimits.login_failures_per_account!;
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 5; i++) await store.rateLimits.hit(`login_failures_per_account:old${i}@example.com`, rule, t0);
    const later = t0 + rule.windowSeconds * 1000 + 1;
    for (let i = 0; i < 3; i++) await store.rateLimits.hit(`login_failures_per_account:new${i}@example.com`, rule, later);
    let after = "";
    let deleted = 0;
    let examined = 0;
    for (;;) {
      const step = await store.rateLimits.pruneWindow(later, after, 3);
      if (step === null) break;
      expect(step.examined).toBeLessThanOrEqual(3);
      after = step.last;
      deleted += step.deleted;
      examined += step.examined;
    }
    expect(examined).toBe(8);
    expect(deleted).toBe(5);
    const left = (await database.sql`SELECT key FROM latchkey_demo_app._rate_limits ORDER BY key`) as { key: string }[];
    expect(left.map((r) => r.key)).toEqual([0, 1, 2].map((i) => `login_failures_per_account:new${i}@example.com`));
  }, 60_000);
});
