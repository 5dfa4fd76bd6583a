import { describe, expect, it } from "bun:test";
import { createCheapHashers, createHasher } from "../../test/contracts/hasher-contract.ts";
import type { PasswordHasher } from "../plugin-api.ts";
import { createHashLimiter, createHashService, defaultHashConcurrency, HashQueueFullError } from "./hash-service.ts";
import type { HashLimiter } from "./hash-service.ts";

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds every slot of `limiter` until the returned gate opens. */
function occupy(limiter: HashLimiter, slots: number): { gate: Gate; done: Promise<unknown> } {
  const g = gate();
  const done = Promise.all(Array.from({ length: slots }, () => limiter.run(() => g.promise)));
  return { gate: g, done };
}

/** A real argon2id hasher that counts its hash and verify calls. */
function countingHasher(): { hasher: PasswordHasher; calls: { hash: number; verify: number } } {
  const calls = { hash: 0, verify: 0 };
  const real = createHasher("argon2id");
  const hasher: PasswordHasher = {
    ...real,
    hash: (pw) => {
      calls.hash++;
      return real.hash(pw);
    },
    verify: (pw, h) => {
      calls.verify++;
      return real.verify(pw, h);
    },
  };
  return { hasher, calls };
}

describe("createHashLimiter", () => {
  it("never runs more operations at once than its concurrency", async () => {
    const limiter = createHashLimiter({ concurrency: 3, maxQueue: 100 });
    let active = 0;
    let maxActive = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(2);
          active--;
          return i;
        }),
      ),
    );
    expect(maxActive).toBe(3);
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(limiter.stats()).toEqual({ running: 0, queued: 0 });
  });

  it("starts waiting operations in the order they arrived", async () => {
    const limiter = createHashLimiter({ concurrency: 1, maxQueue: 10 });
    const blocker = occupy(limiter, 1);
    const started: number[] = [];
    const all = Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        limiter.run(async () => {
          started.push(i);
          await sleep(i % 2);
        }),
      ),
    );
    expect(limiter.stats()).toEqual({ running: 1, queued: 8 });
    blocker.gate.open();
    await all;
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("rejects at once, without running it, an operation that finds the queue full", async () => {
    const limiter = createHashLimiter({ concurrency: 1, maxQueue: 2 });
    const blocker = occupy(limiter, 1);
    const queued = [limiter.run(async () => "a"), limiter.run(async () => "b")];
    let called = false;
    const refused = limiter.run(async () => {
      called = true;
    });
    await expect(refused).rejects.toBeInstanceOf(HashQueueFullError);
    expect(called).toBe(false);
    expect(limiter.stats()).toEqual({ running: 1, queued: 2 });

    blocker.gate.open();
    expect(await Promise.all(queued)).toEqual(["a", "b"]);
    expect(await limiter.run(async () => "after")).toBe("after");
  });

  it("with maxQueue 0 refuses whatever cannot start immediately", async () => {
    const limiter = createHashLimiter({ concurrency: 2, maxQueue: 0 });
    const blocker = occupy(limiter, 2);
    await expect(limiter.run(async () => 1)).rejects.toBeInstanceOf(HashQueueFullError);
    blocker.gate.open();
    await blocker.done;
    expect(await limiter.run(async () => 1)).toBe(1);
  });

  it("frees the slot of an operation that rejects or throws synchronously", async () => {
    const limiter = createHashLimiter({ concurrency: 1, maxQueue: 5 });
    const blocker = occupy(limiter, 1);
    const failing = limiter.run(async () => {
      throw new Error("async failure");
    });
    const throwing = limiter.run((): Promise<never> => {
      throw new Error("sync failure");
    });
    const after = limiter.run(async () => "ran");
    const settled = Promise.allSettled([failing, throwing, after]);
    blocker.gate.open();
    const [a, b, c] = await settled;
    expect(a.status === "rejected" && String(a.reason)).toBe("Error: async failure");
    expect(b.status === "rejected" && String(b.reason)).toBe("Error: sync failure");
    expect(c).toEqual({ status: "fulfilled", value: "ran" });
    expect(limiter.stats()).toEqual({ running: 0, queued: 0 });
  });

  it("refuses a concurrency below 1 or a negative queue", () => {
    expect(() => createHashLimiter({ concurrency: 0, maxQueue: 1 })).toThrow(RangeError);
    expect(() => createHashLimiter({ concurrency: 1.5, maxQueue: 1 })).toThrow(RangeError);
    expect(() => createHashLimiter({ concurrency: 1, maxQueue: -1 })).toThrow(RangeError);
  });

  it("defaults to one slot per core", () => {
    expect(defaultHashConcurrency()).toBeGreaterThanOrEqual(1);
  });
});

describe("createHashService", () => {
  const cheap = createCheapHashers();
  const installed = Object.values(cheap);
  const limiter = createHashLimiter({ concurrency: 4, maxQueue: 256 });
  const service = createHashService({ configured: cheap.argon2id, installed, limiter });

  it("hashes with the configured algorithm", async () => {
    const hash = await service.hash("correct horse");
    expect(cheap.argon2id.canVerify(hash)).toBe(true);
  });

  it("verifies a hash of the configured algorithm and parameters without asking for a rehash", async () => {
    const hash = await service.hash("correct horse");
    expect(await service.verify("correct horse", hash)).toEqual({ ok: true, needsRehash: false });
    expect(await service.verify("wrong horse", hash)).toEqual({ ok: false, needsRehash: false });
  });

  it("verifies bcrypt and scrypt hashes and asks to rehash them with the configured algorithm", async () => {
    for (const other of [cheap.bcrypt, cheap.scrypt]) {
      const hash = await other.hash("correct horse");
      expect(await service.verify("correct horse", hash)).toEqual({ ok: true, needsRehash: true });
      expect(await service.verify("wrong horse", hash)).toEqual({ ok: false, needsRehash: false });
    }
  });

  it("asks to rehash a hash of the configured algorithm made with weaker parameters, never one made with stronger ones", async () => {
    const stronger = createHashService({ configured: createHasher("argon2id", { memory_cost: 16, time_cost: 1 }), installed, limiter });
    expect(await stronger.verify("correct horse", await cheap.argon2id.hash("correct horse"))).toEqual({ ok: true, needsRehash: true });
    const hash = await createHasher("argon2id", { memory_cost: 16, time_cost: 1 }).hash("correct horse");
    expect(await service.verify("correct horse", hash)).toEqual({ ok: true, needsRehash: false });
  });

  it("never matches a password containing NUL, whatever the algorithm, and still spends one verification", async () => {
    const { hasher: counted, calls } = countingHasher();
    const own = createHashService({ configured: counted, installed, limiter });
    await own.prepareDummy();
    for (const h of [cheap.argon2id, cheap.bcrypt, cheap.scrypt]) {
      const hash = await h.hash("Tr0ub4dor");
      const before = calls.verify;
      expect(await own.verify("Tr0ub4dor\u0000", hash)).toEqual({ ok: false, needsRehash: false });
      expect(await own.verify("Tr0ub4dor\u0000Tr0ub4dor", hash)).toEqual({ ok: false, needsRehash: false });
      expect(calls.verify - before).toBe(2);
    }
  });

  it("answers not ok for a hash no installed hasher understands", async () => {
    for (const hash of ["", "plain text", "$unknown$v=1$abc"]) {
      expect(await service.verify("correct horse", hash)).toEqual({ ok: false, needsRehash: false });
    }
  });

  it("runs verifyDummy against one dummy hash that is made once and cached", async () => {
    const { hasher: counted, calls } = countingHasher();
    const own = createHashService({ configured: counted, installed, limiter });
    await Promise.all([own.verifyDummy("a password"), own.verifyDummy("another")]);
    await own.verifyDummy("a third");
    expect(calls.hash).toBe(1);
    expect(calls.verify).toBe(3);
  });

  it("prepareDummy makes the dummy hash ahead of time, so a later verifyDummy only verifies", async () => {
    const { hasher: counted, calls } = countingHasher();
    const own = createHashService({ configured: counted, installed, limiter });
    await own.prepareDummy();
    expect([calls.hash, calls.verify]).toEqual([1, 0]);
    await own.verifyDummy("a password");
    expect([calls.hash, calls.verify]).toEqual([1, 1]);
  });

  it("passes every operation through the shared limiter and surfaces a full queue", async () => {
    const tight = createHashLimiter({ concurrency: 1, maxQueue: 1 });
    const own = createHashService({ configured: cheap.argon2id, installed, limiter: tight });
    const blocker = occupy(tight, 1);
    const waiting = own.hash("correct horse");
    expect(own.stats()).toEqual({ running: 1, queued: 1 });
    await expect(own.hash("x")).rejects.toBeInstanceOf(HashQueueFullError);
    await expect(own.verify("x", await cheap.argon2id.hash("x"))).rejects.toBeInstanceOf(HashQueueFullError);
    await expect(own.verifyDummy("x")).rejects.toBeInstanceOf(HashQueueFullError);
    blocker.gate.open();
    expect(cheap.argon2id.canVerify(await waiting)).toBe(true);
    // The dummy hash that could not be made is not cached as a failure.
    expect(await own.verifyDummy("x")).toBeUndefined();
    expect(own.stats()).toEqual({ running: 0, queued: 0 });
  });

  it("carries a Retry-After suggestion on the queue-full error", () => {
    const err = new HashQueueFullError(256);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("HashQueueFullError");
    expect(err.retryAfterSeconds).toBeGreaterThan(0);
  });
});
