/**
 * Shutdown with several projects each waiting on a stalled mail server (issue 8, item 27): the
 * projects close at the same time, so the wait for in-flight sends is paid once, not per project.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServe, type Running } from "./run.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const PROJECTS = ["one", "two", "three"];

let dir = "";
let running: Running | null = null;
let smtp: Server | null = null;
const sockets: Socket[] = [];

afterAll(() => {
  running?.proc.kill("SIGKILL");
  for (const s of sockets) s.destroy();
  smtp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("SIGTERM with mail in flight in several projects", () => {
  it("closes the projects concurrently and exits 0 within one stop budget", async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-shutdown-"));
    // A mail server that accepts connections and never says a word: every send hangs.
    smtp = createServer((s) => {
      sockets.push(s);
      s.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => smtp!.listen(0, "127.0.0.1", resolve));
    const port = (smtp.address() as { port: number }).port;
    for (const id of PROJECTS) {
      writeFileSync(
        join(dir, `${id}.yaml`),
        `id: ${id}\ntables:\n  users:\n    auth_table: true\n    verify_email: true\n    columns: {}\n` +
          `auth:\n  hasher: { algorithm: argon2id, options: { memory_cost: 1024, time_cost: 1 } }\n` +
          `mail:\n  provider: smtp\n  from: "T <t@example.com>"\n  options: { url: "smtp://127.0.0.1:${port}", timeout_ms: 600000 }\n`,
      );
    }
    running = await startServe([BUN, MAIN, "serve", "--config", dir, "--data", join(dir, "data"), "--port", "0"]);
    const connectionsBefore = sockets.length;
    for (const id of PROJECTS) {
      const r = await fetch(`${running.url}/p/${id}/auth/signup`, { method: "POST", body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }) });
      expect(r.status).toBe(201);
    }
    // Each project's sender is now stuck in a send to the silent server.
    const deadline = Date.now() + 10_000;
    while (sockets.length < connectionsBefore + PROJECTS.length && Date.now() < deadline) await Bun.sleep(20);
    expect(sockets.length).toBeGreaterThanOrEqual(connectionsBefore + PROJECTS.length);
    const started = Date.now();
    running.proc.kill("SIGTERM");
    expect(await running.proc.exited).toBe(0);
    const tookMs = Date.now() - started;
    running = null;
    // Each project waits up to 10 s for its send: together ~10 s, one after another ~30 s.
    expect(tookMs).toBeGreaterThanOrEqual(9_000);
    expect(tookMs).toBeLessThan(20_000);
  }, 90_000);
});
