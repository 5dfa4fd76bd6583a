/**
 * One scheduler per open project (issue 9): housekeeping and the mail sender's passes share one
 * timer, and closing the project cancels every job at once.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createProjectScheduler, schedulerOf } from "../../src/projects/housekeeping.ts";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { authSpec } from "../helpers/auth.ts";

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

describe("project scheduler", () => {
  it("runs each job at its time, the earliest first, and a job scheduled again keeps only its latest time", async () => {
    const s = createProjectScheduler();
    const ran: string[] = [];
    s.at("late", 60, () => ran.push("late"));
    s.at("early", 10, () => ran.push("early"));
    s.at("moved", 5, () => ran.push("moved-first"));
    s.at("moved", 30, () => ran.push("moved"));
    expect(s.pending().sort()).toEqual(["early", "late", "moved"]);
    await Bun.sleep(120);
    expect(ran).toEqual(["early", "moved", "late"]);
    expect(s.pending()).toEqual([]);
    // A job may schedule itself again from inside its run.
    let n = 0;
    const again = (): void => {
      if (++n < 3) s.at("again", 1, again);
    };
    s.at("again", 1, again);
    await Bun.sleep(60);
    expect(n).toBe(3);
  });

  it("cancels one job, or every job when stopped, and one job that throws does not stop the others", async () => {
    const s = createProjectScheduler();
    const ran: string[] = [];
    s.at("a", 5, () => {
      throw new Error("a job failed");
    });
    s.at("b", 5, () => ran.push("b"));
    s.at("c", 5, () => ran.push("c"));
    s.cancel("c");
    await Bun.sleep(40);
    expect(ran).toEqual(["b"]);
    s.at("d", 5, () => ran.push("d"));
    s.stop();
    s.at("e", 1, () => ran.push("e"));
    await Bun.sleep(40);
    expect(ran).toEqual(["b"]);
    expect(s.pending()).toEqual([]);
  });

  it("holds the housekeeping and mail jobs of an open project, and none once it is closed", async () => {
    inst = await createTestInstance([authSpec({ id: "aa" }), authSpec({ id: "bb" })], { boot: { maxOpenProjects: 1, startMail: true } });
    const t = inst;
    expect((await t.req("POST", "/p/aa/auth/login", { body: { email: "nobody@example.com", password: "not the password" } })).status).toBe(401);
    const aa = t.booted.projects.openRuntime("aa")!;
    expect(schedulerOf(aa).pending().sort()).toEqual(["housekeeping", "mail"]);
    // Opening "bb" closes "aa" (one open project at most): its jobs are gone.
    expect((await t.req("POST", "/p/bb/auth/login", { body: { email: "nobody@example.com", password: "not the password" } })).status).toBe(401);
    await Bun.sleep(50);
    expect(t.booted.projects.openRuntime("aa")).toBeNull();
    expect(schedulerOf(aa).pending()).toEqual([]);
    const bb = t.booted.projects.openRuntime("bb")!;
    expect(schedulerOf(bb).pending().sort()).toEqual(["housekeeping", "mail"]);
  });
});
