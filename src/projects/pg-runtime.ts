/**
 * A project served from PostgreSQL (SPEC 15): the runtime the services get, built on the server's
 * one connection pool. What the services read synchronously on every request (the public key's
 * hash, the redirect origins, the HS256 secret or the EdDSA / ES256 key pairs the signer uses) is
 * a snapshot of the database kept
 * by each replica; a timer looks at the project's settings version every REFRESH_EVERY_MS and
 * reads the snapshot again when another replica (or this one) changed a key, a secret or the
 * origins. So a change made on one replica is in force on every replica within
 * REFRESH_EVERY_MS plus one round trip: well inside the 1 s of SPEC 15. The admin key, the
 * console and the admin routes read the store on every request and need no snapshot.
 */
import type { SQL } from "bun";
import type { Database } from "bun:sqlite";
import type { ProjectConfig } from "../config/types.ts";
import { deriveKey } from "../crypto/digest.ts";
import { keyMatchesHash } from "../storage/keys.ts";
import { pgJwtSecrets } from "../storage/postgres/jwt-secrets.ts";
import { bootPgProject, readPgSnapshot, readPgVersion, type PgSnapshot } from "../storage/postgres/project-db.ts";
import { pgSigningKeyStore, type PgSigningKeyStore } from "../storage/postgres/signing-keys.ts";
import { projectSchemaName } from "../storage/postgres/url.ts";
import { rotationPlanOf } from "../storage/signing.ts";
import { createPgProjectStore } from "../storage/postgres/project-store.ts";
import { createPgStoreState } from "../storage/postgres/context.ts";
import type { ProjectStore } from "../storage/store.ts";
import { withAuditTrail } from "./audit-trail.ts";
import { checkedMailProvider, createProjectHashes, pluginContext, projectIdentity, type LoadedProject, type ProjectRuntime, type ServerDeps } from "./runtime.ts";
import { asymmetricSigner, hs256Signer, type TokenSigner } from "./token-signer.ts";

/** How often a replica looks at a project's settings version. */
export const REFRESH_EVERY_MS = 250;

/** The seal keys of a project's stored secrets (derived from the server key, never stored). */
function sealKeys(serverKey: Uint8Array) {
  return { jwt: deriveKey(serverKey, "jwt-seal"), keys: deriveKey(serverKey, "project-key-seal"), signing: deriveKey(serverKey, "signing-key-seal") };
}

/** A runtime of a PostgreSQL project, with its snapshot refresh. */
export interface PgProjectRuntime extends ProjectRuntime {
  /** Reads the settings version now and, when it moved, the snapshot (also called by the timer). */
  refresh(): Promise<void>;
}

/**
 * Loads a project on PostgreSQL: the schema plan and the boot writes (src/storage/postgres/project-db.ts),
 * then the first snapshot. The runtime's timer runs until `release()`.
 */
export async function loadPgProjectRuntime(config: ProjectConfig, deps: ServerDeps, sql: SQL): Promise<LoadedProject & { runtime: PgProjectRuntime }> {
  const seals = sealKeys(deps.serverKey);
  const state = createPgStoreState();
  const store: ProjectStore = createPgProjectStore({ sql, config, now: deps.now, random: deps.random, sealKey: seals.keys, state });
  const log = withAuditTrail(deps.log.child({ project: config.id }), () => store.audit, deps.now);
  const nowIso = new Date(deps.now()).toISOString();
  const booted = await bootPgProject({ sql, config, now: deps.now, random: deps.random, sealKey: seals.keys, state, jwtSealKey: seals.jwt, signingSealKey: seals.signing }, nowIso);
  for (const c of booted.plan.changes) log.info("schema change applied", { change: c.kind, table: c.table, column: c.column });
  if (booted.plan.confirmNote !== null) log.warn(booted.plan.confirmNote, { plan_id: booted.plan.planId });
  if (booted.switchedFrom !== null) log.event("signing_algorithm_changed", { from: booted.switchedFrom, to: config.auth.signing.algorithm });

  const { algorithm } = config.auth.signing;
  const storeCtx = { sql, inTransaction: false, schema: projectSchemaName(config.id) };
  const signingKeys: PgSigningKeyStore | undefined =
    algorithm === "HS256" ? undefined : pgSigningKeyStore(storeCtx, { sealKey: seals.signing, projectId: config.id, alg: algorithm });
  const read = (): Promise<PgSnapshot> => readPgSnapshot(sql, config.id, seals.jwt, signingKeys);
  let snapshot: PgSnapshot = await read();
  /** Takes a snapshot unless a newer one is already in place (two reads may finish out of order). */
  const adopt = (next: PgSnapshot): PgSnapshot => (next.version >= snapshot.version ? (snapshot = next) : snapshot);

  let refreshing: Promise<void> | null = null;
  let unreachableSince: number | null = null;
  const refresh = (): Promise<void> =>
    (refreshing ??= (async () => {
      try {
        const version = await readPgVersion(sql, config.id);
        if (version !== snapshot.version) adopt(await read());
        if (unreachableSince !== null) log.info("database reachable again; settings refreshed", { down_ms: deps.now() - unreachableSince });
        unreachableSince = null;
      } finally {
        refreshing = null;
      }
    })());
  // The signer of SQLite (token-signer.ts) over the snapshot: a write goes to the database, and is
  // in force on this replica before the promise resolves (the snapshot is read again); the other
  // replicas follow at their next look at the settings version.
  const jwtSecrets = pgJwtSecrets(storeCtx, { sealKey: seals.jwt, projectId: config.id, random: deps.random });
  const plan = rotationPlanOf({ rotateEverySeconds: config.auth.signing.rotateEverySeconds, accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds });
  const signer: TokenSigner = signingKeys === undefined
    ? hs256Signer({
      current: () => snapshot.jwtSecret,
      async rotate(nowIso) {
        await jwtSecrets.rotate(nowIso);
        adopt(await read());
      },
    })
    : asymmetricSigner(
      {
        keys: () => snapshot.signingKeys,
        async advance(nowMs, p) {
          await signingKeys.advance(nowMs, p);
          return adopt(await read()).signingKeys;
        },
        async replaceAll(nowMs, ttlSeconds) {
          await signingKeys.replaceAll(nowMs, ttlSeconds);
          return adopt(await read()).signingKeys;
        },
      },
      { ...plan, alg: algorithm as Exclude<typeof algorithm, "HS256"> },
      deps.now(),
    );

  const mailFactory = deps.registry.mailProviders[config.mail.provider.id];
  const mailProvider = checkedMailProvider(mailFactory.create(config.mail.provider.options, pluginContext(config, log)), mailFactory);
  // Started once nothing more can fail: a load that throws leaves no timer behind.
  const timer = setInterval(() => {
    refresh().catch((e: unknown) => {
      if (unreachableSince !== null) return;
      unreachableSince = deps.now();
      log.warn("cannot read the project's settings version; keys and secrets in memory stay as they were until it answers", { error: e instanceof Error ? e.message : String(e) });
    });
  }, REFRESH_EVERY_MS);
  timer.unref?.();
  const closeHooks: (() => Promise<void> | void)[] = [];
  let released = false;
  const runtime: PgProjectRuntime = {
    id: config.id,
    config,
    store,
    get db(): Database {
      throw new Error(`project ${config.id} is served from PostgreSQL: it has no SQLite connection`);
    },
    keys: {
      matches: (kind, presented) => keyMatchesHash(kind, presented, snapshot.keyHashes[kind]),
    },
    jwt: { current: () => snapshot.jwtSecret },
    signer,
    hashes: createProjectHashes(config, deps, log),
    mailProvider,
    ...projectIdentity(config.id, deps),
    log,
    deps,
    redirectOrigins: () => snapshot.origins,
    onClose: (fn) => closeHooks.push(fn),
    refresh,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      for (const fn of closeHooks.splice(0).reverse()) await fn();
      await mailProvider.close?.();
    },
    async close() {
      await runtime.release();
    },
  };
  return { runtime, generatedKeys: booted.generatedKeys };
}
