/**
 * `latchkey plugin test (FILE | BUILT-IN ID)`: runs the contract suite the built-in plugins pass
 * against a plugin file (or a built-in) and prints one pass/fail table per plugin.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import * as v from "valibot";
import { formatConsoleMessage } from "../../plugins/mail-console/index.ts";
import type { PluginRegistry } from "../../plugins/index.ts";
import type { MailProvider, MailProviderFactory, PasswordHasherFactory } from "../plugin-api.ts";
import type { ContractCheck } from "./contracts/check.ts";
import {
  BUILTIN_HASHER_FACTORIES,
  CHEAP_HASHER_OPTIONS,
  OTHER_CHEAP_HASHER_OPTIONS,
  createTestPluginContext,
  hasherContractChecks,
  type BuiltinHasherId,
} from "./contracts/hasher.ts";
import { mailContractChecks, type MailContractOptions, type MailHarness, type ObservedMail } from "./contracts/mail.ts";
import { formatResults, runChecks } from "./contracts/run.ts";
import { importPluginFile, isPluginFileName, type PluginFactoryAny } from "./load-plugin-files.ts";
import { closedPort, startHttpReceiver, startSmtpReceiver } from "./receivers.ts";

/** In `--options` of a mail plugin, replaced by the URL of the local receiver the test starts. */
export const RECEIVER_PLACEHOLDER = "{{receiver_url}}";

export interface PluginTestRequest {
  readonly target: string;
  readonly optionsJson: string | null;
  readonly otherOptionsJson: string | null;
  readonly builtins: PluginRegistry;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** 0: every check ran and passed; 1: a check failed or was skipped; 2: the plugin could not be loaded or the options are invalid. */
export type PluginTestExit = 0 | 1 | 2;

class UsageProblem extends Error {}

function parseJsonOption(flag: string, text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageProblem(`${flag} is not valid JSON`);
  }
}

/** Replaces the placeholder in every string of a JSON value. */
function substitute(value: unknown, url: string): unknown {
  if (typeof value === "string") return value.split(RECEIVER_PLACEHOLDER).join(url);
  if (Array.isArray(value)) return value.map((x) => substitute(x, url));
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, substitute(x, url)]));
  return value;
}

function mentionsPlaceholder(value: unknown): boolean {
  return JSON.stringify(value ?? null).includes(RECEIVER_PLACEHOLDER);
}

function parseOptions(factory: PluginFactoryAny, options: unknown, flag: string): unknown {
  const result = v.safeParse(factory.optionsSchema, options ?? {});
  if (result.success) return result.output;
  const issues = result.issues.map((i) => `${v.getDotPath(i) ?? "(options)"}: ${i.message}`).join("; ");
  throw new UsageProblem(`${flag} do not fit the options schema of "${factory.id}": ${issues}`);
}

interface Target {
  readonly factory: PluginFactoryAny;
  readonly builtin: boolean;
  readonly baseDir: string;
}

async function resolveTargets(target: string, builtins: PluginRegistry): Promise<{ label: string; targets: Target[] }> {
  const looksLikeFile = isPluginFileName(target) || target.includes("/") || existsSync(target);
  if (looksLikeFile) {
    const file = resolve(target);
    if (!existsSync(file)) throw new UsageProblem(`${target}: no such file`);
    let factories: PluginFactoryAny[];
    try {
      factories = await importPluginFile(file);
    } catch (err) {
      throw new UsageProblem(`${target}: ${(err as Error).message}`);
    }
    for (const f of factories) {
      const table = f.kind === "hasher" ? builtins.hashers : builtins.mailProviders;
      if (Object.hasOwn(table, f.id)) throw new UsageProblem(`${target}: id "${f.id}" clashes with a built-in plugin; choose another id`);
    }
    return { label: target, targets: factories.map((factory) => ({ factory, builtin: false, baseDir: dirname(file) })) };
  }
  const factory = builtins.hashers[target] ?? builtins.mailProviders[target];
  if (factory === undefined || !(Object.hasOwn(builtins.hashers, target) || Object.hasOwn(builtins.mailProviders, target))) {
    const known = [...Object.keys(builtins.hashers), ...Object.keys(builtins.mailProviders)].join(", ");
    throw new UsageProblem(`${target}: no such file, and not a built-in plugin (${known})`);
  }
  return { label: `built-in ${target}`, targets: [{ factory, builtin: true, baseDir: process.cwd() }] };
}

function hasherChecks(t: Target, req: PluginTestRequest): ContractCheck[] {
  const factory = t.factory as PasswordHasherFactory;
  const builtinId = t.builtin ? (factory.id as BuiltinHasherId) : null;
  const given = parseJsonOption("--options", req.optionsJson);
  const givenOther = parseJsonOption("--other-options", req.otherOptionsJson);
  const options = given ?? (builtinId !== null ? CHEAP_HASHER_OPTIONS[builtinId] : {});
  const other = givenOther ?? (builtinId !== null && given === undefined ? OTHER_CHEAP_HASHER_OPTIONS[builtinId] : undefined);
  const ctx = createTestPluginContext(t.baseDir);
  const hasher = factory.create(parseOptions(factory, options, "--options"), ctx);
  const otherParams = other === undefined ? null : factory.create(parseOptions(factory, other, "--other-options"), ctx);
  const others = Object.fromEntries(
    (Object.keys(BUILTIN_HASHER_FACTORIES) as BuiltinHasherId[]).map((id) => [
      id,
      BUILTIN_HASHER_FACTORIES[id].create(v.parse(BUILTIN_HASHER_FACTORIES[id].optionsSchema, CHEAP_HASHER_OPTIONS[id]), ctx),
    ]),
  );
  return hasherContractChecks({ name: factory.id, hasher, otherParams, others });
}

/** Captures stdout while the console provider sends, and reads the printed blocks back. */
function consoleHarness(factory: MailProviderFactory): MailHarness {
  const original = process.stdout.write;
  let captured = "";
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    captured += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return true;
  }) as typeof process.stdout.write;
  const rule = formatConsoleMessage({ from: "", to: "", subject: "", text: "" }).split("\n")[0];
  return {
    provider: factory.create(v.parse(factory.optionsSchema, {}), createTestPluginContext()),
    delivered: async (): Promise<ObservedMail[]> =>
      captured.split(`${rule}\n`).filter((_, i) => i % 2 === 1).map((block) => {
        const [head, ...rest] = block.split("\n\n");
        const header = (name: string): string => head.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";
        return { to: header("To"), subject: header("Subject"), body: rest.join("\n\n") };
      }),
    teardown: async () => {
      process.stdout.write = original;
    },
  };
}

function mailSetup(t: Target, req: PluginTestRequest): { setup: () => Promise<MailHarness>; options: MailContractOptions } {
  const factory = t.factory as MailProviderFactory;
  const ctx = createTestPluginContext(t.baseDir);
  const create = (options: unknown): MailProvider => factory.create(v.parse(factory.optionsSchema, options), ctx);
  if (t.builtin) {
    const secret = `whsec_${randomBytes(24).toString("base64")}`;
    switch (factory.id) {
      case "console":
        return { setup: async () => consoleHarness(factory), options: { hasVerify: false } };
      case "file": {
        return {
          setup: async () => {
            const dir = mkdtempSync(join(tmpdir(), "latchkey-plugin-test-"));
            const provider = create({ dir: join(dir, "outbox") });
            const { readdirSync, readFileSync } = await import("node:fs");
            return {
              provider,
              delivered: async () =>
                readdirSync(join(dir, "outbox")).sort().map((n) => {
                  const doc = JSON.parse(readFileSync(join(dir, "outbox", n), "utf8")) as { to: string; subject: string; text: string };
                  return { to: doc.to, subject: doc.subject, body: doc.text };
                }),
              teardown: async () => rmSync(dir, { recursive: true, force: true }),
            };
          },
          options: {
            hasVerify: true,
            makeUndeliverable: async () => {
              const dir = mkdtempSync(join(tmpdir(), "latchkey-plugin-test-"));
              writeFileSync(join(dir, "not-a-dir"), "");
              return create({ dir: join(dir, "not-a-dir", "outbox") });
            },
          },
        };
      }
      case "smtp":
        return {
          setup: async () => {
            const sink = startSmtpReceiver();
            return { provider: create({ host: "127.0.0.1", port: sink.port, timeout_ms: 5000 }), delivered: async () => sink.observed(), teardown: () => sink.close() };
          },
          options: { hasVerify: true, makeUndeliverable: async () => create({ host: "127.0.0.1", port: await closedPort(), timeout_ms: 2000 }) },
        };
      case "http":
        return {
          setup: async () => {
            const r = startHttpReceiver();
            return { provider: create({ url: r.url, secret }), delivered: async () => r.observed(), teardown: () => r.close() };
          },
          options: {
            hasVerify: false,
            makeUndeliverable: async () => create({ url: `http://127.0.0.1:${await closedPort()}`, secret, timeout: "2s" }),
            makeRefused: async () => {
              const r = startHttpReceiver(500);
              return { provider: create({ url: r.url, secret }), teardown: () => r.close() };
            },
          },
        };
    }
  }
  const given = parseJsonOption("--options", req.optionsJson) ?? {};
  // Reported before any check runs: wrong options are a usage problem, not a failed check.
  const probe = factory.create(parseOptions(factory, substitute(given, "http://127.0.0.1:9"), "--options"), ctx);
  const hasVerify = typeof probe.verify === "function";
  if (!mentionsPlaceholder(given)) {
    return {
      setup: async () => ({ provider: create(given), delivered: async () => [] }),
      options: {
        hasVerify,
        unobservable: `put ${RECEIVER_PLACEHOLDER} in --options where the plugin takes its service's URL, so a local receiver can observe deliveries`,
      },
    };
  }
  return {
    setup: async () => {
      const r = startHttpReceiver();
      return { provider: create(substitute(given, r.url)), delivered: async () => r.observed(), teardown: () => r.close() };
    },
    options: {
      hasVerify,
      makeUndeliverable: async () => create(substitute(given, `http://127.0.0.1:${await closedPort()}`)),
      makeRefused: async () => {
        const r = startHttpReceiver(500);
        return { provider: create(substitute(given, r.url)), teardown: () => r.close() };
      },
    },
  };
}

/** Runs the contract for every plugin of the target and prints the tables. */
export async function runPluginTest(req: PluginTestRequest): Promise<PluginTestExit> {
  let failed = false;
  try {
    const { label, targets } = await resolveTargets(req.target, req.builtins);
    for (const t of targets) {
      const kind = t.factory.kind === "hasher" ? "hasher" : "mail provider";
      let checks: ContractCheck[];
      if (t.factory.kind === "hasher") {
        checks = hasherChecks(t, req);
      } else {
        const { setup, options } = mailSetup(t, req);
        checks = mailContractChecks(t.factory.id, setup, options);
      }
      const results = await runChecks(checks);
      req.out(formatResults(`${kind} "${t.factory.id}" (${label})`, results));
      if (results.some((r) => r.status === "fail")) failed = true;
      else if (results.some((r) => r.status === "skip")) {
        // A partial run is not a pass: CI must not take a skipped check for a passed one.
        failed = true;
        req.out("incomplete: skipped checks count as not passed; see the notes above.\n");
      }
    }
  } catch (err) {
    if (err instanceof UsageProblem) {
      req.err(`latchkey: ${err.message}\n`);
      return 2;
    }
    req.err(`latchkey: the plugin failed outside a check: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return failed ? 1 : 0;
}
