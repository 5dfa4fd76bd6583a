import { describe, expect, it } from "bun:test";
import { createInflightTracker } from "./inflight.ts";

describe("in-flight tracker", () => {
  it("waits for the requests begun before the call, not for later ones", async () => {
    const t = createInflightTracker();
    const early = t.begin();
    let drained = false;
    const wait = t.drained(10_000).then(() => {
      drained = true;
    });
    const late = t.begin();
    await Bun.sleep(5);
    expect(drained).toBe(false);
    t.end(early);
    await wait;
    expect(drained).toBe(true);
    expect(t.count()).toBe(1);
    t.end(late);
    expect(t.count()).toBe(0);
  });

  it("resolves at once with nothing in flight, and after maxWaitMs when a request never ends", async () => {
    const t = createInflightTracker();
    await t.drained(10_000);
    t.begin();
    const started = Date.now();
    await t.drained(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
