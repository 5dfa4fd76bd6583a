/** Mail provider `console`: prints each message to stdout. For local development; the default. */
import * as v from "valibot";
import { defineMailProvider } from "../../src/plugin-api.ts";
import type { MailMessage, MailProvider, MailProviderFactory } from "../../src/plugin-api.ts";

const optionsSchema = v.optional(v.strictObject({}), {});

export type ConsoleMailOptions = v.InferOutput<typeof optionsSchema>;

/**
 * Bodies carry user-supplied values (e.g. a display name). Control characters other than
 * newline and tab are shown escaped so a message cannot drive the operator's terminal.
 */
function escapeControlChars(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The block printed for one message. */
export function formatConsoleMessage(msg: MailMessage): string {
  const line = "-".repeat(72);
  const header = [
    `From: ${msg.from}`,
    `To: ${msg.to}`,
    `Subject: ${msg.subject}`,
    ...(msg.id === undefined ? [] : [`Id: ${msg.id}`]),
  ];
  const body = msg.text.replace(/\r\n?/g, "\n");
  return `${line}\n${escapeControlChars([...header, "", body].join("\n"))}\n${line}\n`;
}

const consoleMailProvider: MailProviderFactory<typeof optionsSchema> = defineMailProvider({
  id: "console",
  optionsSchema,
  create(): MailProvider {
    return {
      id: "console",
      async send(msg: MailMessage): Promise<void> {
        process.stdout.write(formatConsoleMessage(msg));
      },
    };
  },
});

export default consoleMailProvider;
