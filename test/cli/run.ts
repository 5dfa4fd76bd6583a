/** Spawning helpers for CLI and binary tests: real processes, real HTTP on 127.0.0.1. */
import type { Subprocess } from "bun";

export const ROOT = new URL("../../", import.meta.url).pathname;

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Finished> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export interface Running {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `serve` and resolves once the `listening on http://HOST:PORT` line appears. */
export async function startServe(cmd: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Running> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  void (async () => {
    for await (const c of proc.stderr) err += new TextDecoder().decode(c);
  })();
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const reader = proc.stdout.getReader();
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      out += new TextDecoder().decode(value);
    }
  })();
  while (Date.now() < deadline) {
    const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
    if (m) return { proc, url: m[1], stdout: () => out, stderr: () => err };
    if (proc.exitCode !== null) break;
    await Bun.sleep(10);
  }
  proc.kill("SIGKILL");
  await pump.catch(() => undefined);
  throw new Error(`server did not start (exit ${proc.exitCode}):\nstdout: ${out}\nstderr: ${err}`);
}
