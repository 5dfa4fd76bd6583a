/**
 * Local stand-ins for a mail service, carried by the binary for `latchkey plugin test`: an HTTP
 * receiver (for API-based providers) and a minimal SMTP receiver. Both bind 127.0.0.1 only.
 */
import type { ObservedMail } from "./contracts/mail.ts";

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface HttpReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** The messages POSTed so far, read from JSON or form bodies. */
  observed(): ObservedMail[];
  close(): Promise<void>;
}

/** Every string in a JSON value, with the key it sits under. */
function leaves(value: unknown, key: string, out: { key: string; value: string }[]): void {
  if (typeof value === "string") out.push({ key, value });
  else if (Array.isArray(value)) for (const item of value) leaves(item, key, out);
  else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) leaves(v, k, out);
}

/**
 * What a mail API received: the subject is the value of a field named `subject` (any case, any
 * depth); recipient and body are searched in every string of the request.
 */
export function observeRequest(body: string): ObservedMail {
  const found: { key: string; value: string }[] = [];
  try {
    leaves(JSON.parse(body), "", found);
  } catch {
    for (const [key, value] of new URLSearchParams(body)) found.push({ key, value });
  }
  const all = found.map((l) => l.value).join("\n");
  return { to: all, subject: found.find((l) => /^subject$/i.test(l.key))?.value ?? "", body: all };
}

/** Answers every request with `status` (a JSON body that Postmark-like clients accept as success on 200). */
export function startHttpReceiver(status = 200): HttpReceiver {
  const requests: ReceivedRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req): Promise<Response> {
      const url = new URL(req.url);
      requests.push({ method: req.method, path: url.pathname, headers: Object.fromEntries(req.headers), body: await req.text() });
      const ok = status >= 200 && status < 300;
      return Response.json(ok ? { ErrorCode: 0, Message: "OK", id: `r-${requests.length}` } : { ErrorCode: 500, Message: "receiver failing on purpose" }, { status });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    observed: () => requests.filter((r) => r.method === "POST").map((r) => observeRequest(r.body)),
    close: async () => {
      await server.stop(true);
    },
  };
}

/** A loopback port where nothing listens (bound, read, released). */
export async function closedPort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

export interface SmtpReceiver {
  readonly port: number;
  readonly raw: string[];
  observed(): ObservedMail[];
  close(): Promise<void>;
}

function headerOf(raw: string, name: string): string {
  const head = raw.split("\r\n\r\n")[0].replace(/\r\n[ \t]+/g, " ");
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim() ?? "";
}

/** Enough MIME for the contract's messages: ASCII text, possibly quoted-printable. */
function observeSmtp(raw: string): ObservedMail {
  let body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  if (/content-transfer-encoding: quoted-printable/i.test(raw)) {
    body = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return { to: headerOf(raw, "To"), subject: headerOf(raw, "Subject"), body: body.replace(/\r\n/g, "\n") };
}

interface SmtpSession {
  buffer: string;
  inData: boolean;
  lines: string[];
}

/** A minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH) that keeps every message. */
export function startSmtpReceiver(): SmtpReceiver {
  const raw: string[] = [];
  const server = Bun.listen<SmtpSession>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket): void {
        socket.data = { buffer: "", inData: false, lines: [] };
        socket.write("220 localhost ESMTP latchkey-plugin-test\r\n");
      },
      data(socket, chunk): void {
        const s = socket.data;
        s.buffer += new TextDecoder().decode(chunk);
        let at: number;
        while ((at = s.buffer.indexOf("\r\n")) >= 0) {
          const line = s.buffer.slice(0, at);
          s.buffer = s.buffer.slice(at + 2);
          if (s.inData) {
            if (line === ".") {
              s.inData = false;
              raw.push(`${s.lines.join("\r\n")}\r\n`);
              s.lines = [];
              socket.write("250 queued\r\n");
            } else {
              s.lines.push(line.startsWith("..") ? line.slice(1) : line);
            }
            continue;
          }
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === "EHLO") socket.write("250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
          else if (verb === "HELO" || verb === "MAIL" || verb === "RCPT" || verb === "RSET" || verb === "NOOP") socket.write("250 ok\r\n");
          else if (verb === "DATA") {
            s.inData = true;
            socket.write("354 end with <CRLF>.<CRLF>\r\n");
          } else if (verb === "QUIT") {
            socket.write("221 bye\r\n");
            socket.end();
          } else socket.write("502 not implemented\r\n");
        }
      },
    },
  });
  return {
    port: server.port,
    raw,
    observed: () => raw.map(observeSmtp),
    close: async () => server.stop(true),
  };
}
