import { describe, expect, it } from "bun:test";
import { createHashLimiter, HashQueueFullError } from "./hash-service.ts";

function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const settle = <T>(p: Promise<T>): Promise<"ok" | "full" | "error"> =>
  p.then(
    () => "ok" as const,
    (e: unknown) => (e instanceof HashQueueFullError ? ("full" as const) : ("error" as const)),
  );

describe("hash queue fairness across projects", () => {
  it("a flooded key gets the refusals; a quiet key still gets in, and is served before the flood's backlog", async () => {
    const limiter = createHashLimiter({ concurrency: 1, maxQueue: 4 });
    const hold = gate();
    const order: string[] = [];
    const job = (name: string) => async (): Promise<void> => {
      order.push(name);
      await hold.promise;
    };
    const flood = Array.from({ length: 8 }, (_, i) => settle(limiter.run(job(`a${i}`), "A")));
    expect(limiter.stats()).toEqual({ running: 1, queued: 4 });
    // The queue is full of A's work; B still gets in, taking A's newest place.
    const quiet = [settle(limiter.run(job("b0"), "B")), settle(limiter.run(job("b1"), "B"))];
    expect(limiter.stats()).toEqual({ running: 1, queued: 4 });
    // Balanced now (A: 2 waiting, B: 2): a third B is refused like anyone else.
    expect(await settle(limiter.run(job("b2"), "B"))).toBe("full");
    hold.open();
    const a = await Promise.all(flood);
    const b = await Promise.all(quiet);
    expect(b).toEqual(["ok", "ok"]);
    expect(a).toEqual(["ok", "ok", "ok", "full", "full", "full", "full", "full"]);
    // Round-robin: B's first waiter runs right after A's first waiter, not after A's backlog.
    expect(order).toEqual(["a0", "a1", "b0", "a2", "b1"]);
  });

  it("keeps FIFO order within one key and refuses a newcomer of the busiest key", async () => {
    const limiter = createHashLimiter({ concurrency: 1, maxQueue: 2 });
    const hold = gate();
    const order: number[] = [];
    const all = Array.from({ length: 4 }, (_, i) =>
      settle(
        limiter.run(async () => {
          order.push(i);
          await hold.promise;
        }, "A"),
      ),
    );
    hold.open();
    expect(await Promise.all(all)).toEqual(["ok", "ok", "ok", "full"]);
    expect(order).toEqual([0, 1, 2]);
  });
});
