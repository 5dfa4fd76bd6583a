/**
 * What the lazy projects of projects/pool.ts must keep of the rest of the server: the
 * `latchkey_projects{state}` gauge tells open projects from those the pool closed, and a closed
 * project's first request waits for a write lock held by another process instead of failing.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec, signUp } from "../helpers/auth.ts";
import { createServerMetrics } from "../../src/metrics/server-metrics.ts";

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

async function projectStates(t: TestInstance): Promise<Record<string, number>> {
  const res = await t.booted.app.handle(new Request("http://localhost/metrics"));
  expect(res.status).toBe(200);
  const text = await res.text();
  const states: Record<string, number> = {};
  for (const m of text.matchAll(/^latchkey_projects\{state="(\w+)"\} (\d+)$/gm)) states[m[1]] = Number(m[2]);
  return states;
}

describe("latchkey_projects{state}", () => {
  it("counts projects closed by the pool apart from open ones (loaded = open + closed)", async () => {
    inst = await createTestInstance([authSpec({ id: "aa" }), authSpec({ id: "bb" }), authSpec({ id: "cc" })], {
      boot: { maxOpenProjects: 1, metrics: { metrics: createServerMetrics(), token: null } },
    });
    // Boot checks every project and leaves it closed.
    expect(await projectStates(inst)).toEqual({ loaded: 3, open: 0, closed: 3, failed: 0, removed: 0 });
    await signUp(inst, "a@example.com", { project: "aa" });
    expect(await projectStates(inst)).toEqual({ loaded: 3, open: 1, closed: 2, failed: 0, removed: 0 });
    // The limit closes aa when bb opens.
    await signUp(inst, "b@example.com", { project: "bb" });
    expect(inst.booted.projects.openRuntime("aa")).toBeNull();
    expect(await projectStates(inst)).toEqual({ loaded: 3, open: 1, closed: 2, failed: 0, removed: 0 });
    // A project removed by a reload is `removed`, not `closed`.
    await inst.booted.reload([...inst.booted.projects.keys()].filter((id) => id !== "cc").map((id) => inst!.booted.projects.configOf(id)!));
    expect(await projectStates(inst)).toEqual({ loaded: 2, open: 1, closed: 1, failed: 0, removed: 1 });
  });
});
