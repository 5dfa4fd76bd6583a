import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RandomBytes } from "./crypto/random.ts";

export class ServerKeyError extends Error {
  override readonly name = "ServerKeyError";
}

/**
 * The server key protects what must not sit in a project database in clear (JWT secrets, link
 * tokens, refresh successors). It comes from LATCHKEY_SERVER_KEY (base64) or `{data}/server.key`
 * (32 random bytes, mode 0600, created at first boot). It never enters a project database.
 */
export function loadServerKey(opts: { dataDir: string; envValue?: string; random: RandomBytes; create: boolean }): Uint8Array {
  if (opts.envValue !== undefined && opts.envValue !== "") {
    const key = Buffer.from(opts.envValue, "base64");
    if (key.length < 32) throw new ServerKeyError("LATCHKEY_SERVER_KEY must be base64 of at least 32 bytes");
    return new Uint8Array(key);
  }
  const path = join(opts.dataDir, "server.key");
  if (existsSync(path)) {
    const key = readFileSync(path);
    if (key.length !== 32) throw new ServerKeyError(`${path} must hold exactly 32 bytes (it has ${key.length}); it was left untouched`);
    return new Uint8Array(key);
  }
  if (!opts.create) return new Uint8Array(32); // `check` plans without creating anything
  mkdirSync(opts.dataDir, { recursive: true });
  const key = opts.random(32);
  writeFileSync(path, key, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return key;
}
