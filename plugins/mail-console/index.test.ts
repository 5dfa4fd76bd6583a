import { describe, expect, it } from "bun:test";
import { parse, safeParse } from "valibot";
import { createTestPluginContext } from "../../test/contracts/hasher-contract.ts";
import { runMailContract, sampleMessage } from "../../test/contracts/mail-contract.ts";
import type { MailHarness, ObservedMail } from "../../test/contracts/mail-contract.ts";
import consoleMailProvider, { formatConsoleMessage } from "./index.ts";

const RULE = "-".repeat(72);

/** Replaces process.stdout.write until `restore()`; returns everything written meanwhile. */
function captureStdout(): { output: () => string; restore: () => void } {
  const original = process.stdout.write;
  let captured = "";
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    captured += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return true;
  }) as typeof process.stdout.write;
  return {
    output: () => captured,
    restore: () => {
      process.stdout.write = original;
    },
  };
}

function parseBlocks(output: string): ObservedMail[] {
  const parts = output.split(`${RULE}\n`);
  const blocks = parts.filter((_, i) => i % 2 === 1);
  return blocks.map((block) => {
    const [head, ...rest] = block.split("\n\n");
    const header = (name: string): string => head.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";
    return { to: header("To"), subject: header("Subject"), body: rest.join("\n\n") };
  });
}

async function setup(): Promise<MailHarness> {
  const capture = captureStdout();
  const provider = consoleMailProvider.create(parse(consoleMailProvider.optionsSchema, {}), createTestPluginContext());
  return {
    provider,
    delivered: async () => parseBlocks(capture.output()),
    teardown: async () => capture.restore(),
  };
}

runMailContract("console", setup, { hasVerify: false });

describe("console mail options", () => {
  it("takes no options: {} or nothing, and refuses any key", () => {
    expect(parse(consoleMailProvider.optionsSchema, {})).toEqual({});
    expect(parse(consoleMailProvider.optionsSchema, undefined)).toEqual({});
    expect(safeParse(consoleMailProvider.optionsSchema, { dir: "x" }).success).toBe(false);
  });
});

describe("console mail output", () => {
  it("prints from, to, subject and text as one block", () => {
    const out = formatConsoleMessage(sampleMessage());
    expect(out).toBe(
      [
        RULE,
        "From: Demo App <no-reply@example.com>",
        "To: alice@example.org",
        "Subject: Reset your Demo App password",
        "Id: 01J0000000000000000000000A",
        "",
        "Open this link to choose a new password: https://app.example.com/reset?token=abc123",
        RULE,
        "",
      ].join("\n"),
    );
  });

  it("escapes terminal control characters coming from user values in the body", () => {
    const out = formatConsoleMessage(sampleMessage({ text: "Hi \u001b[2J\u0007Mallory\r\nbye\tnow" }));
    expect(out).not.toContain("\u001b");
    expect(out).not.toContain("\u0007");
    expect(out).toContain("Hi \\u001b[2J\\u0007Mallory\nbye\tnow");
  });
});
