/**
 * The checkpoint thread in the compiled executable (built with the flags of `npm run build`, its
 * Worker entry point included): the server's project database has its WAL checkpointed and
 * started over while signups write, with far fewer pages written than SQLite's automatic
 * checkpoint (1,000 pages) would need, so the worker did it; and no fallback is logged.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServe, type Running } from "../cli/run.ts";
import { buildBinary, minimalProject } from "../cli/build-binary.ts";
import { call, logLines, waitFor } from "../ops/helpers.ts";

let dir = "";
let bin = "";
let running: Running | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-ckpt-bin-"));
  bin = await buildBinary(dir);
}, 180_000);

afterAll(async () => {
  if (running) {
    running.proc.kill("SIGKILL");
    await running.proc.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** SQLite's count of WAL restarts, from the WAL header (bytes 12..15). */
const walResets = (wal: string): number => readFileSync(wal).readUInt32BE(12);

describe("the compiled binary", () => {
  it("checkpoints on its checkpoint thread: the WAL starts over long before 1,000 pages", async () => {
    const work = join(dir, "w");
    mkdirSync(join(work, "projects"), { recursive: true });
    writeFileSync(join(work, "projects", "app.yaml"), minimalProject("app"));
    running = await startServe([bin, "serve", "--config", "projects", "--data", "data", "--port", "0", "--log-level", "debug"], { cwd: work });
    const base = running.url;
    const wal = join(work, "data", "app.db-wal");
    for (let i = 0; i < 20; i++) {
      const r = await call(base, "POST", "/p/app/auth/signup", { body: { email: `user${i}@example.com`, password: "correct horse battery" } });
      expect(r.status).toBe(201);
      await Bun.sleep(120); // a tick of the checkpoint thread between two signups
    }
    await waitFor("the WAL started over", () => existsSync(wal) && walResets(wal) >= 1, 10_000);
    // Fewer than 1,000 pages ever went into the log: SQLite's automatic checkpoint never ran.
    expect(statSync(wal).size).toBeLessThan(1_000 * 4_096);
    const lines = logLines(running.stdout());
    expect(lines.filter((l) => /checkpoint/.test(String(l.msg)))).toEqual([]);
    // Shutdown lets go of the database and ends cleanly.
    running.proc.kill("SIGTERM");
    expect(await running.proc.exited).toBe(0);
    running = undefined;
  }, 120_000);
});
