/**
 * Counts requests in flight by generation, so a reload can wait for the requests that started
 * before it (and may hold a removed project's database) without waiting for later ones.
 */
export interface InflightTracker {
  /** A request starts; returns its generation for `end`. */
  begin(): number;
  end(generation: number): void;
  /** Resolves once every request begun before this call has ended, or after `maxWaitMs`. */
  drained(maxWaitMs: number): Promise<void>;
  /** Requests in flight now. */
  count(): number;
}

export function createInflightTracker(): InflightTracker {
  let generation = 0;
  const counts = new Map<number, number>();
  let waiters: { upTo: number; resolve: () => void }[] = [];

  const oldest = (): number => (counts.size === 0 ? Infinity : Math.min(...counts.keys()));
  const wakeWaiters = (): void => {
    const first = oldest();
    const ready = waiters.filter((w) => first > w.upTo);
    if (ready.length === 0) return;
    waiters = waiters.filter((w) => first <= w.upTo);
    for (const w of ready) w.resolve();
  };

  return {
    begin() {
      counts.set(generation, (counts.get(generation) ?? 0) + 1);
      return generation;
    },
    end(g) {
      const n = (counts.get(g) ?? 0) - 1;
      if (n > 0) counts.set(g, n);
      else counts.delete(g);
      if (waiters.length > 0) wakeWaiters();
    },
    drained(maxWaitMs) {
      const upTo = generation++;
      if (oldest() > upTo) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w.resolve !== done);
          resolve();
        }, maxWaitMs);
        timer.unref?.();
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push({ upTo, resolve: done });
      });
    },
    count: () => [...counts.values()].reduce((a, b) => a + b, 0),
  };
}
