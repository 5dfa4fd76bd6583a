/** Plugin files used by the loader, `plugin test` and binary tests (written into temp dirs, mode 0644). */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../cli/run.ts";

/** A fresh plugin directory, mode 0755. */
export function pluginDir(prefix = "latchkey-plugins-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export function writePlugin(dir: string, name: string, source: string, mode = 0o644): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  chmodSync(file, mode);
  return file;
}

/** Copies a file of examples/plugins/ into `dir`. */
export function copyExample(dir: string, name: string, as = name): string {
  const file = join(dir, as);
  copyFileSync(join(ROOT, "examples/plugins", name), file);
  chmodSync(file, 0o644);
  return file;
}

/** A mail plugin that POSTs to a URL and formats the body with a package from node_modules beside it. */
export const RELAY_MAIL_PLUGIN = `
import { createHash } from "node:crypto";
import formatMail from "relay-format";
export default ({ defineMailProvider, v, PermanentMailError }) => defineMailProvider({
  id: "relay",
  optionsSchema: v.strictObject({ url: v.pipe(v.string(), v.url()), tag: v.optional(v.string(), "none") }),
  create: (o) => ({
    id: "relay",
    async send(msg) {
      const res = await fetch(o.url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-tag": o.tag, "x-digest": createHash("sha256").update(msg.text).digest("hex") },
        body: JSON.stringify(formatMail(msg)),
      });
      await res.body?.cancel();
      if (res.status >= 400 && res.status < 500) throw new PermanentMailError("refused: " + res.status);
      if (!res.ok) throw new Error("relay answered " + res.status);
    },
  }),
});
`;

/** The package the relay plugin imports, installed in a node_modules beside it. */
export function installRelayFormat(dir: string): void {
  const pkg = join(dir, "node_modules", "relay-format");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "relay-format", version: "1.0.0", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), "module.exports = (m) => ({ formatted_by: 'relay-format', to: m.to, subject: m.subject, text: m.text });\n");
  // Whatever the umask: the loader refuses a node_modules that group or others can write.
  for (const d of [join(dir, "node_modules"), pkg]) chmodSync(d, 0o755);
  for (const f of ["package.json", "index.js"]) chmodSync(join(pkg, f), 0o644);
}

/** A hasher that claims every hash (wrong canVerify): the contract must catch it. */
export const GREEDY_HASHER_PLUGIN = `
export default ({ defineHasher, v }) => defineHasher({
  id: "greedy",
  optionsSchema: v.optional(v.object({}), {}),
  create: () => ({
    id: "greedy",
    hash: async (pw) => "$greedy$" + Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex") + "$" + Bun.hash(pw).toString(16),
    verify: async (pw, h) => h.startsWith("$greedy$") && h.endsWith("$" + Bun.hash(pw).toString(16)),
    canVerify: () => true,
    needsRehash: () => false,
  }),
});
`;

/** A mail plugin whose send swallows every error: the contract must catch it. */
export const SWALLOWING_MAIL_PLUGIN = `
export default ({ defineMailProvider, v }) => defineMailProvider({
  id: "swallow",
  optionsSchema: v.object({ url: v.string() }),
  create: (o) => ({
    id: "swallow",
    async send(msg) {
      try {
        await fetch(o.url, { method: "POST", body: JSON.stringify({ to: msg.to, subject: msg.subject, text: msg.text }) });
      } catch {
        // errors swallowed on purpose
      }
    },
  }),
});
`;
