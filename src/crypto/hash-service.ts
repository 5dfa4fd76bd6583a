/**
 * Bounded password hashing (SPEC §9.2, §9.5). Hashing is deliberately expensive in CPU and
 * memory, so a burst of signups or logins must queue instead of running all at once: one
 * `HashLimiter` per server process caps the work across every project, and each project gets a
 * `HashService` that runs its own configured hasher through that shared limiter.
 */
import { availableParallelism } from "node:os";
import type { PasswordHasher } from "../plugin-api.ts";
import { defaultRandomBytes, randomToken } from "./random.ts";

/** How many operations may wait for a slot before new ones are refused (SPEC §9.5). */
export const DEFAULT_HASH_MAX_QUEUE = 256;

/** One hash at a time per core (SPEC §9.5). */
export function defaultHashConcurrency(): number {
  return availableParallelism();
}

/**
 * Rejection of an operation that found the waiting queue full. Nothing was computed;
 * the server answers 503 with `Retry-After`.
 */
export class HashQueueFullError extends Error {
  override readonly name = "HashQueueFullError";
  /** Suggested `Retry-After`, in seconds. */
  readonly retryAfterSeconds: number = 1;

  constructor(maxQueue: number) {
    super(`password hashing queue is full (${maxQueue} waiting)`);
  }
}

export interface HashLimiterStats {
  /** Operations holding a slot now. */
  readonly running: number;
  /** Operations waiting for a slot. */
  readonly queued: number;
}

/**
 * Runs at most `concurrency` operations at once; up to `maxQueue` more wait. Waiting operations
 * are grouped by key (the project): slots go round-robin across keys (FIFO within a key), and
 * when the queue is full a newcomer whose key has fewer waiting than the busiest key takes the
 * busiest key's newest place, which is refused instead. So a project flooded with logins gets
 * the 503s, and a quiet project's logins still get in, and get in soon.
 */
export interface HashLimiter {
  /**
   * Runs `fn` once a slot is free and settles like it. Rejects with `HashQueueFullError`, without
   * calling `fn`, when all slots are busy and the queue is full (at once, or later when a quieter
   * key takes its place). A slot is released however `fn` ends (resolve, reject or synchronous throw).
   */
  run<T>(fn: () => Promise<T>, key?: string): Promise<T>;
  stats(): HashLimiterStats;
}

export interface HashLimiterOptions {
  /** Slots; the server uses `defaultHashConcurrency()`. Integer >= 1. */
  readonly concurrency: number;
  /** Waiting places; the server uses `DEFAULT_HASH_MAX_QUEUE`. Integer >= 0. */
  readonly maxQueue: number;
  /** Told how long each operation waited for its slot, in seconds (0 when a slot was free); metrics. */
  readonly onWaitSeconds?: (seconds: number) => void;
}

interface Waiter {
  start(): void;
  refuse(): void;
}

/** Creates the process-wide limiter shared by the hash services of all projects. */
export function createHashLimiter(opts: HashLimiterOptions): HashLimiter {
  const { concurrency, maxQueue } = opts;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError("concurrency must be an integer >= 1");
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError("maxQueue must be an integer >= 0");

  let running = 0;
  let queued = 0;
  // Keys with waiting operations, in round-robin order (Map keeps insertion order).
  const queues = new Map<string, Waiter[]>();

  const takeNext = (): Waiter | undefined => {
    const first = queues.entries().next();
    if (first.done) return undefined;
    const [key, waiters] = first.value;
    const next = waiters.shift();
    queues.delete(key);
    // The key goes to the back of the ring, so every other waiting key is served first.
    if (waiters.length > 0) queues.set(key, waiters);
    queued--;
    return next;
  };

  // A finishing operation hands its slot straight to the next waiter, so `running` never
  // dips and a newcomer can never overtake the queue.
  const release = (): void => {
    const next = takeNext();
    if (next === undefined) running--;
    else next.start();
  };

  const execute = <T>(fn: () => Promise<T>): Promise<T> => {
    let result: Promise<T>;
    try {
      result = fn();
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.finally(release);
  };

  /** Frees a place for `key` when the queue is full: refuses the busiest other key's newest waiter. */
  const makeRoomFor = (key: string): boolean => {
    const own = queues.get(key)?.length ?? 0;
    let busiest: Waiter[] | null = null;
    for (const waiters of queues.values()) if (busiest === null || waiters.length > busiest.length) busiest = waiters;
    if (busiest === null || busiest.length <= own + 1) return false;
    busiest.pop()?.refuse();
    queued--;
    return true;
  };

  return {
    run<T>(fn: () => Promise<T>, key = ""): Promise<T> {
      if (running < concurrency) {
        running++;
        opts.onWaitSeconds?.(0);
        return execute(fn);
      }
      if (queued >= maxQueue && !makeRoomFor(key)) return Promise.reject(new HashQueueFullError(maxQueue));
      const queuedAt = performance.now();
      return new Promise<T>((resolve, reject) => {
        const waiters = queues.get(key) ?? [];
        if (waiters.length === 0) queues.set(key, waiters);
        waiters.push({
          start: () => {
            opts.onWaitSeconds?.((performance.now() - queuedAt) / 1000);
            execute(fn).then(resolve, reject);
          },
          refuse: () => reject(new HashQueueFullError(maxQueue)),
        });
        queued++;
      });
    },
    stats(): HashLimiterStats {
      return { running, queued };
    },
  };
}

export interface HashVerification {
  readonly ok: boolean;
  /**
   * Only ever true together with `ok`: the hash was made by another algorithm than the
   * configured one, or by it with other parameters. Store a fresh `hash()` of the password.
   */
  readonly needsRehash: boolean;
}

/** Password hashing for one project. Every method may reject with `HashQueueFullError`. */
export interface HashService {
  /** Hashes with the configured hasher. */
  hash(password: string): Promise<string>;
  /** Verifies against a hash of any installed algorithm (dispatch on `canVerify`). */
  verify(password: string, hash: string): Promise<HashVerification>;
  /**
   * One verification against a hash of the configured hasher that no password matches, so a
   * login for an unknown email costs what a wrong password costs (SPEC §9.4). The dummy hash is
   * made on first use and cached.
   */
  verifyDummy(password: string): Promise<void>;
  /**
   * Makes the dummy hash ahead of time (the server calls it in the background after boot), so
   * even the first unknown-email login costs exactly one verification, like a wrong password.
   */
  prepareDummy(): Promise<void>;
  /** Load of the shared limiter (all projects together). */
  stats(): HashLimiterStats;
}

export interface HashServiceOptions {
  /** The project's hasher: makes every new hash and judges `needsRehash`. */
  readonly configured: PasswordHasher;
  /** All installed hashers (any parameters), so old hashes of any algorithm still verify. */
  readonly installed: readonly PasswordHasher[];
  /** The process-wide limiter. */
  readonly limiter: HashLimiter;
  /** This service's share of the limiter (the project id): the queue is fair across keys. */
  readonly key?: string;
  /**
   * Dummy hashes shared across projects (and across the reopenings of one project), keyed by the
   * configured hasher and its options: a fleet of projects with one hasher configuration makes
   * one dummy hash, not one per project. Without it the service keeps its own.
   */
  readonly dummies?: { readonly cache: DummyHashCache; readonly key: string };
}

/** Dummy hashes by hasher configuration (see `HashServiceOptions.dummies`). */
export type DummyHashCache = Map<string, Promise<string>>;

export function createDummyHashCache(): DummyHashCache {
  return new Map();
}

/** Creates one project's hash service on top of the shared limiter. */
export function createHashService(opts: HashServiceOptions): HashService {
  const { configured } = opts;
  const key = opts.key ?? "";
  const limiter = { run: <T>(fn: () => Promise<T>): Promise<T> => opts.limiter.run(fn, key), stats: () => opts.limiter.stats() };
  // The configured instance goes first: it is the one that made most stored hashes.
  const candidates = [configured, ...opts.installed.filter((h) => h !== configured)];
  const cache: DummyHashCache = opts.dummies?.cache ?? new Map();
  const dummyKey = opts.dummies?.key ?? "";

  const getDummyHash = (): Promise<string> => {
    let dummyHash = cache.get(dummyKey);
    if (dummyHash === undefined) {
      const made = limiter.run(() => configured.hash(randomToken(defaultRandomBytes, 32)));
      dummyHash = made;
      cache.set(dummyKey, made);
      // A failure (e.g. queue full) must not be cached: the next caller tries again.
      made.catch(() => {
        if (cache.get(dummyKey) === made) cache.delete(dummyKey);
      });
    }
    return dummyHash;
  };

  const verifyDummy = async (password: string): Promise<void> => {
    const dummy = await getDummyHash();
    await limiter.run(() => configured.verify(password, dummy));
  };

  return {
    hash(password: string): Promise<string> {
      return limiter.run(() => configured.hash(password));
    },
    async verify(password: string, hash: string): Promise<HashVerification> {
      const hasher = candidates.find((h) => h.canVerify(hash));
      // No password with NUL can be set (the policy refuses it), and some algorithms would let one
      // match a hash of its prefix (bcrypt's C-string key, HMAC's zero padding): never a match,
      // but still one verification's worth of work.
      if (hasher === undefined || password.includes("\u0000")) {
        // A stored value no installed hasher understands: still spend one verification so
        // the answer takes as long as for a wrong password.
        await verifyDummy(password);
        return { ok: false, needsRehash: false };
      }
      const ok = await limiter.run(() => hasher.verify(password, hash));
      const needsRehash = ok && (hasher.id !== configured.id || configured.needsRehash?.(hash) === true);
      return { ok, needsRehash };
    },
    verifyDummy,
    async prepareDummy(): Promise<void> {
      await getDummyHash();
    },
    stats(): HashLimiterStats {
      return limiter.stats();
    },
  };
}
