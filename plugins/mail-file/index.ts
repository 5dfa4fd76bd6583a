/** Mail provider `file`: writes each message as one JSON file into a directory (development, tests). */
import { randomBytes } from "node:crypto";
import { access, constants, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as v from "valibot";
import { defineMailProvider } from "../../src/plugin-api.ts";
import type { MailMessage, MailProvider, MailProviderFactory } from "../../src/plugin-api.ts";

const optionsSchema = v.strictObject({
  /** Output directory; relative paths resolve against the project file's directory. */
  dir: v.pipe(v.string(), v.nonEmpty("dir must not be empty")),
});

export type FileMailOptions = v.InferOutput<typeof optionsSchema>;

/** The JSON document written for one message. */
export interface StoredMailFile {
  readonly id: string | null;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string | null;
  /** ISO 8601, UTC. */
  readonly date: string;
}

// The id becomes part of a file name, so only a conservative alphabet is used as is.
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** `20250102T030405678Z`: sorts by time and is valid on every file system. */
function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

/** File name for a message: `<timestamp>-<id or random>.json`. */
export function mailFileName(msg: MailMessage, date: Date): string {
  const tag = msg.id !== undefined && SAFE_ID.test(msg.id) ? msg.id : randomBytes(8).toString("hex");
  return `${compactTimestamp(date)}-${tag}.json`;
}

const fileMailProvider: MailProviderFactory<typeof optionsSchema> = defineMailProvider({
  id: "file",
  optionsSchema,
  create(options, ctx): MailProvider {
    const dir = resolve(ctx.baseDir, options.dir);
    return {
      id: "file",
      async send(msg: MailMessage): Promise<void> {
        const date = new Date();
        const doc: StoredMailFile = {
          id: msg.id ?? null,
          from: msg.from,
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
          html: msg.html ?? null,
          date: date.toISOString(),
        };
        // Messages carry live links: private to the server's user whatever the umask.
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const target = join(dir, mailFileName(msg, date));
        // Readers polling the directory must never see a half-written file: write a hidden
        // temporary file beside the target (same file system), then rename it into place.
        const temp = join(dir, `.${randomBytes(8).toString("hex")}.tmp`);
        try {
          await writeFile(temp, `${JSON.stringify(doc, null, 2)}\n`, { flag: "wx", mode: 0o600 });
          await rename(temp, target);
        } catch (err) {
          await rm(temp, { force: true });
          throw err;
        }
      },
      async verify(): Promise<void> {
        await mkdir(dir, { recursive: true });
        await access(dir, constants.W_OK);
      },
    };
  },
});

export default fileMailProvider;
