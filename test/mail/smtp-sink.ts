/**
 * A real SMTP server (npm `smtp-server`) on 127.0.0.1 for end-to-end mail tests: what the `smtp`
 * provider delivers through nodemailer arrives here as raw MIME.
 */
import { createServer } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  /** Raw MIME as received. */
  readonly raw: string;
  /** The raw message with quoted-printable soft breaks and escapes decoded (good enough to find links). */
  readonly decoded: string;
  readonly subject: string;
}

export interface SmtpSink {
  readonly port: number;
  readonly received: ReceivedMail[];
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A TCP port that was free a moment ago (to start a sink "later on the same port"). */
export async function reservePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const decoded = decodeQuotedPrintable(raw);
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          decoded,
          subject: /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? "",
        });
        callback();
      });
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const addr = server.server.address();
      resolve(typeof addr === "object" && addr ? addr.port : port);
    });
  });
  return {
    port: bound,
    received,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`SMTP sink: expected ${count} messages, got ${received.length}`);
        await Bun.sleep(10);
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a received mail that carries a `token` parameter. */
export function linkIn(mail: { decoded: string } | { text: string }): URL {
  const body = "decoded" in mail ? mail.decoded : mail.text;
  const m = /https?:\/\/[^\s"<>]+[?&]token=[A-Za-z0-9_-]{43}[^\s"<>]*/.exec(body);
  if (!m) throw new Error("no token link in the mail");
  return new URL(m[0].replace(/&amp;/g, "&"));
}
