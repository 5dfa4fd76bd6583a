/**
 * Raw HTTP/1.1 over a socket, for what `fetch` would normalize or refuse to send: %-escapes and
 * dot segments exactly as written, short Host headers, a body cut off mid-way.
 */
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

/** Sends `head` (request line + headers, without the blank line) and `body`, reads until close. */
export function rawRequest(url: string, head: string, body = ""): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(port), hostname, () => {
      s.write(`${head}\r\nConnection: close\r\n\r\n${body}`);
    });
    s.setTimeout(10_000, () => s.destroy(new Error("raw request timed out")));
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", reject);
    s.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const lines = text.slice(0, split).split("\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const rest = text.slice(split + 4);
      let json: unknown = null;
      try {
        json = JSON.parse(rest);
      } catch {
        json = null;
      }
      resolve({ status, headers, body: rest, json });
    });
  });
}

/** `GET path` with the given Host header (default the server's own host:port). */
export function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const { host } = new URL(url);
  const all = { host, ...headers };
  const head = [`GET ${path} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)].join("\r\n");
  return rawRequest(url, head);
}

/** Sends a request whose declared body is longer than what is sent, then closes the socket. */
export function sendTruncatedBody(url: string, path: string, declaredLength: number, partialBody: string): Promise<void> {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${declaredLength}\r\n\r\n${partialBody}`);
      // Give the server time to start reading the body, then hang up mid-way.
      setTimeout(() => s.destroy(), 150);
    });
    s.on("error", reject);
    s.on("close", () => resolve());
  });
}
