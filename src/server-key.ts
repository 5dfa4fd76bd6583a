import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RandomBytes } from "./crypto/random.ts";

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

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
    // Buffer.from(…, "base64") skips what it cannot read: a typo would silently give another key.
    const text = opts.envValue.trim();
    if (!BASE64.test(text) || text.replace(/=+$/, "").length % 4 === 1) throw new ServerKeyError("LATCHKEY_SERVER_KEY is not valid base64");
    const key = Buffer.from(text, "base64");
    if (key.length < 32) throw new ServerKeyError("LATCHKEY_SERVER_KEY must be base64 of at least 32 bytes");
    if (key.every((b) => b === 0)) throw new ServerKeyError("LATCHKEY_SERVER_KEY is all zero bytes; generate a random one (openssl rand -base64 32)");
    return new Uint8Array(key);
  }
  const path = join(opts.dataDir, "server.key");
  if (existsSync(path)) {
    const key = readFileSync(path);
    if (key.length !== 32) throw new ServerKeyError(`${path} must hold exactly 32 bytes (it has ${key.length}); it was left untouched`);
    if (key.every((b) => b === 0)) throw new ServerKeyError(`${path} is all zero bytes (a damaged file?); it was left untouched`);
    return new Uint8Array(key);
  }
  if (!opts.create) return new Uint8Array(32); // `check` plans without creating anything
  // A new key cannot open what the lost one protected (JWT secrets, pending links): never
  // replace a deleted key silently beside existing project databases.
  const databases = existsSync(opts.dataDir)
    ? readdirSync(opts.dataDir).filter((f) => f.endsWith(".db") && statSync(join(opts.dataDir, f)).size > 0)
    : [];
  if (databases.length > 0) {
    throw new ServerKeyError(
      `${path} is missing but ${opts.dataDir} holds project databases (${databases.slice(0, 3).join(", ")}${databases.length > 3 ? ", ..." : ""}); ` +
        "restore server.key from a backup or set LATCHKEY_SERVER_KEY; a new key would not open them",
    );
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const key = opts.random(32);
  writeFileSync(path, key, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return key;
}
