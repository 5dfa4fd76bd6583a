import { afterAll, describe, expect, it } from "bun:test";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import type { SMTPServerOptions } from "smtp-server";
import { getDotPath, parse, safeParse } from "valibot";
import { createTestPluginContext } from "../../test/contracts/hasher-contract.ts";
import { runMailContract, sampleMessage } from "../../test/contracts/mail-contract.ts";
import type { MailHarness, ObservedMail } from "../../test/contracts/mail-contract.ts";
import type { MailProvider } from "../../src/plugin-api.ts";
import smtpMailProvider, { isLoopbackHost, messageIdFor } from "./index.ts";

interface Sink {
  readonly port: number;
  readonly raw: string[];
  close(): Promise<void>;
}

/** A local SMTP server that accepts everything (or checks AUTH) and keeps the raw messages. */
async function startSink(extra: Partial<SMTPServerOptions> = {}): Promise<Sink> {
  const raw: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback): void {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        raw.push(Buffer.concat(chunks).toString("utf8"));
        callback();
      });
    },
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, raw, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function createProvider(options: unknown): MailProvider {
  return smtpMailProvider.create(parse(smtpMailProvider.optionsSchema, options), createTestPluginContext());
}

function headerOf(raw: string, name: string): string {
  const head = raw.split("\r\n\r\n")[0].replace(/\r\n[ \t]+/g, " ");
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim() ?? "";
}

/** Enough MIME for the test messages: ASCII text, possibly quoted-printable. */
function observe(raw: string): ObservedMail {
  let body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  if (/content-transfer-encoding: quoted-printable/i.test(raw)) {
    body = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return { to: headerOf(raw, "To"), subject: headerOf(raw, "Subject"), body: body.replace(/\r\n/g, "\n") };
}

const sinks: Sink[] = [];
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
});

async function sink(extra: Partial<SMTPServerOptions> = {}): Promise<Sink> {
  const s = await startSink(extra);
  sinks.push(s);
  return s;
}

async function setup(): Promise<MailHarness> {
  const s = await startSink();
  return {
    provider: createProvider({ host: "127.0.0.1", port: s.port, timeout_ms: 5000 }),
    delivered: async () => s.raw.map(observe),
    teardown: () => s.close(),
  };
}

runMailContract("smtp", setup, {
  hasVerify: true,
  makeUndeliverable: async () => createProvider({ host: "127.0.0.1", port: await closedPort(), timeout_ms: 2000 }),
});

describe("smtp options", () => {
  it("fills in the defaults of the host form", () => {
    expect(parse(smtpMailProvider.optionsSchema, { host: "mail.example.com" })).toEqual({
      host: "mail.example.com",
      port: 587,
      secure: false,
      auth: null,
      timeoutMs: 10_000,
      tlsRejectUnauthorized: true,
      requireTls: false,
    });
  });

  it("defaults the port to 465 when secure is set", () => {
    expect(parse(smtpMailProvider.optionsSchema, { host: "mail.example.com", secure: true }).port).toBe(465);
  });

  it("reads host, port, TLS mode and percent-encoded credentials from a URL", () => {
    expect(parse(smtpMailProvider.optionsSchema, { url: "smtps://me%40x.io:p%40ss%3Aword@mail.example.com" })).toMatchObject({
      host: "mail.example.com",
      port: 465,
      secure: true,
      auth: { user: "me@x.io", pass: "p@ss:word" },
    });
    expect(parse(smtpMailProvider.optionsSchema, { url: "smtp://mail.example.com:2525", timeout_ms: 500 })).toMatchObject({
      port: 2525,
      secure: false,
      auth: null,
      timeoutMs: 500,
    });
  });

  it("requires exactly one of url and host, and keeps port/secure/auth to the host form", () => {
    for (const bad of [
      {},
      { url: "smtp://a.example.com", host: "b.example.com" },
      { url: "smtp://a.example.com", port: 25 },
      { url: "smtp://a.example.com", auth: { user: "u", pass: "p" } },
      { host: "mail.example.com", username: "u" },
      { host: "mail.example.com", auth: { user: "u" } },
      { host: "mail.example.com", port: 70000 },
      { host: "mail example.com" },
      { url: "https://mail.example.com" },
      { url: "smtp://mail.example.com/path" },
      { url: "smtp://mail.example.com?tls.rejectUnauthorized=false" },
    ]) {
      expect(safeParse(smtpMailProvider.optionsSchema, bad).success).toBe(false);
    }
  });

  it("never quotes the URL or the password in a validation message", () => {
    for (const bad of [
      { url: "http://user:hunter2-secret@mail.example.com" },
      { url: "smtp://user:hunter2-secret@mail.example.com?x=1" },
      { host: "mail.example.com", auth: { user: "u", pass: 4242424242 } },
      { host: "mail.example.com", auth: "user:hunter2-secret" },
    ]) {
      const result = safeParse(smtpMailProvider.optionsSchema, bad);
      expect(result.success).toBe(false);
      const messages = (result.issues ?? []).map((i) => `${getDotPath(i)} ${i.message}`).join("\n");
      expect(messages).not.toContain("hunter2");
      expect(messages).not.toContain("4242424242");
    }
  });
});

describe("credentials need TLS", () => {
  const auth = { user: "mailer", pass: "hunter2-secret" };
  const requireTls = (options: unknown): boolean => parse(smtpMailProvider.optionsSchema, options).requireTls;

  it("requires STARTTLS whenever credentials go to a host that is not loopback", () => {
    expect(requireTls({ host: "mail.example.com", auth })).toBe(true);
    expect(requireTls({ host: "10.0.0.5", port: 25, auth })).toBe(true);
    expect(requireTls({ url: "smtp://mailer:hunter2-secret@mail.example.com:587" })).toBe(true);
    // Implicit TLS already protects them; without credentials there is nothing to steal.
    expect(requireTls({ host: "mail.example.com", secure: true, auth })).toBe(false);
    expect(requireTls({ url: "smtps://mailer:hunter2-secret@mail.example.com" })).toBe(false);
    expect(requireTls({ host: "mail.example.com" })).toBe(false);
    // A loopback relay may take credentials in clear.
    for (const host of ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"]) expect(requireTls({ host, auth })).toBe(false);
    expect(requireTls({ url: "smtp://mailer:x@[::1]:2525" })).toBe(false);
    expect(requireTls({ host: "127.0.0.1", auth, require_tls: true })).toBe(true);
  });

  it("refuses require_tls: false with credentials for a remote host, without quoting the password", () => {
    for (const bad of [
      { host: "mail.example.com", auth, require_tls: false },
      { url: "smtp://mailer:hunter2-secret@mail.example.com", require_tls: false },
    ]) {
      const result = safeParse(smtpMailProvider.optionsSchema, bad);
      expect(result.success).toBe(false);
      const messages = (result.issues ?? []).map((i) => i.message).join("\n");
      expect(messages).toContain("unencrypted");
      expect(messages).not.toContain("hunter2");
    }
    expect(safeParse(smtpMailProvider.optionsSchema, { host: "127.0.0.1", auth, require_tls: false }).success).toBe(true);
  });

  it("knows loopback hosts", () => {
    for (const h of ["localhost", "LOCALHOST", "a.localhost", "127.0.0.1", "127.255.0.1", "::1", "[::1]", "::ffff:127.0.0.1"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["mail.example.com", "128.0.0.1", "10.0.0.1", "::2", "localhost.example.com", "127.0.0.1.example.com"]) expect(isLoopbackHost(h)).toBe(false);
  });

  it("sends with credentials to a loopback relay that offers no STARTTLS", async () => {
    const s = await sink({ authOptional: false, onAuth: (_a, _s, cb): void => cb(null, { user: "mailer" }) });
    await createProvider({ host: "localhost", port: s.port, auth }).send(sampleMessage());
    expect(s.raw).toHaveLength(1);
  });
});

describe("smtp delivery", () => {
  it("logs in with the configured credentials, from the host form and from a URL", async () => {
    const s = await sink({
      authOptional: false,
      onAuth(auth, _session, callback): void {
        if (auth.username === "mailer" && auth.password === "s3cret:pass") callback(null, { user: auth.username });
        else callback(new Error("Invalid username or password"));
      },
    });
    await createProvider({ host: "127.0.0.1", port: s.port, auth: { user: "mailer", pass: "s3cret:pass" } }).send(sampleMessage());
    await createProvider({ url: `smtp://mailer:s3cret%3Apass@127.0.0.1:${s.port}` }).send(sampleMessage());
    expect(s.raw).toHaveLength(2);
  });

  it("rejects on wrong credentials without putting the password into the error", async () => {
    const s = await sink({
      authOptional: false,
      onAuth(_auth, _session, callback): void {
        callback(new Error("Invalid username or password"));
      },
    });
    const provider = createProvider({ host: "127.0.0.1", port: s.port, auth: { user: "mailer", pass: "wrong-hunter2" } });
    const error = await provider.send(sampleMessage()).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain("wrong-hunter2");
    expect(s.raw).toEqual([]);
  });

  it("derives the Message-ID from a safe outbox id and the sender's domain", async () => {
    const s = await sink();
    await createProvider({ host: "127.0.0.1", port: s.port }).send(sampleMessage({ id: "out-42" }));
    expect(headerOf(s.raw[0], "Message-ID")).toBe("<out-42@example.com>");
  });

  it("lets nodemailer generate the Message-ID when the outbox id could break the header", async () => {
    const s = await sink();
    await createProvider({ host: "127.0.0.1", port: s.port }).send(sampleMessage({ id: "x>\r\nBcc: eve@example.net" }));
    expect(headerOf(s.raw[0], "Message-ID")).toMatch(/^<[^<>\s]+@[^<>\s]+>$/);
    expect(headerOf(s.raw[0], "Bcc")).toBe("");
  });

  it("with require_tls refuses to send to a server that offers no STARTTLS, and sends without it", async () => {
    const s = await sink();
    const strict = createProvider({ host: "127.0.0.1", port: s.port, require_tls: true, timeout_ms: 2000 });
    await expect(strict.send(sampleMessage())).rejects.toBeInstanceOf(Error);
    expect(s.raw).toEqual([]);
    await createProvider({ host: "127.0.0.1", port: s.port }).send(sampleMessage());
    expect(s.raw).toHaveLength(1);
  });

  it("fails verify() and send() when nothing listens on the port", async () => {
    const provider = createProvider({ host: "127.0.0.1", port: await closedPort(), timeout_ms: 2000 });
    await expect(provider.verify?.()).rejects.toBeInstanceOf(Error);
    await expect(provider.send(sampleMessage())).rejects.toBeInstanceOf(Error);
  });
});

describe("messageIdFor", () => {
  it("uses the address inside angle brackets, or a bare address", () => {
    expect(messageIdFor(sampleMessage({ id: "a.b_c-1" }))).toBe("<a.b_c-1@example.com>");
    expect(messageIdFor(sampleMessage({ id: "a", from: "no-reply@mail.example.org" }))).toBe("<a@mail.example.org>");
  });

  it("gives up on a missing or unsafe id or domain", () => {
    expect(messageIdFor(sampleMessage({ id: undefined }))).toBeUndefined();
    expect(messageIdFor(sampleMessage({ id: "a b" }))).toBeUndefined();
    expect(messageIdFor(sampleMessage({ id: "a", from: "Demo <no-reply@[127.0.0.1]>" }))).toBeUndefined();
    expect(messageIdFor(sampleMessage({ id: "a", from: "no address" }))).toBeUndefined();
  });
});
