/**
 * Mail provider `smtp` (nodemailer). Configured by either a `url` (smtp:// or smtps://) or a
 * `host` with `port`, `secure` and `auth`. Neither the URL nor the password is ever logged or
 * echoed in a validation message: the URL may carry credentials.
 */
import type { Transporter } from "nodemailer";
import type { SMTPTransportOptions } from "nodemailer/lib/smtp-transport";
import { isIP } from "node:net";
import * as v from "valibot";
import { defineMailProvider, PermanentMailError } from "../../src/plugin-api.ts";
import type { MailMessage, MailProvider, MailProviderFactory } from "../../src/plugin-api.ts";

const DEFAULT_PORT = 587;
const DEFAULT_SECURE_PORT = 465;

/** A resolved SMTP endpoint: what either form of the options boils down to. */
export interface SmtpEndpoint {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly auth: { readonly user: string; readonly pass: string } | null;
  readonly timeoutMs: number;
  readonly tlsRejectUnauthorized: boolean;
  /**
   * Without implicit TLS: refuse to send unless the server upgrades the connection with STARTTLS.
   * Always on when credentials go to a host that is not loopback (see `resolveRequireTls`).
   */
  readonly requireTls: boolean;
}

/** `localhost`, 127.0.0.0/8 and ::1: a connection that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Credentials never travel in clear over the network: with `auth` and without implicit TLS, a
 * server that does not upgrade with STARTTLS is refused (an attacker on the path could strip the
 * STARTTLS offer). Only a loopback relay may take credentials without TLS. An explicit
 * `require_tls: false` with credentials to another host is a configuration error.
 */
function resolveRequireTls(o: { require_tls?: boolean }, endpoint: { host: string; secure: boolean; auth: unknown }): boolean {
  const credentialsLeaveHost = endpoint.auth !== null && !endpoint.secure && !isLoopbackHost(endpoint.host);
  return o.require_tls ?? credentialsLeaveHost;
}

const PLAIN_AUTH_MESSAGE =
  "require_tls: false would send the SMTP password unencrypted; use secure: true / smtps://, keep require_tls on, or use a loopback relay";

// Hostname or IP literal; no spaces, slashes or control characters.
const HOST_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/**
 * Parses `smtp://user:pass@host:port` / `smtps://...` into an endpoint, or returns null.
 * Parsing here (instead of handing the URL to nodemailer) keeps query-string options from
 * silently overriding the ones in the project file.
 */
function parseSmtpUrl(raw: string): Omit<SmtpEndpoint, "timeoutMs" | "tlsRejectUnauthorized" | "requireTls"> | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") return null;
  if (url.search !== "" || url.hash !== "" || (url.pathname !== "" && url.pathname !== "/")) return null;
  if (url.hostname === "" || !HOST_PATTERN.test(url.hostname)) return null;
  const secure = url.protocol === "smtps:";
  const port = url.port === "" ? (secure ? DEFAULT_SECURE_PORT : DEFAULT_PORT) : Number(url.port);
  let auth: SmtpEndpoint["auth"] = null;
  if (url.username !== "" || url.password !== "") {
    try {
      auth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } catch {
      return null;
    }
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port, secure, auth };
}

const URL_MESSAGE = "url must be smtp://[user:pass@]host[:port] or smtps://..., without path or query";

const optionsSchema = v.pipe(
  v.strictObject({
    // Custom messages throughout: valibot's defaults quote the received value, which for
    // `url` and `auth.pass` may be a credential.
    url: v.optional(v.pipe(v.string(URL_MESSAGE), v.check((s) => parseSmtpUrl(s) !== null, URL_MESSAGE))),
    host: v.optional(v.pipe(v.string("host must be a string"), v.regex(HOST_PATTERN, "host must be a hostname or IP address"))),
    port: v.optional(
      v.pipe(
        v.number("port must be a number"),
        v.integer("port must be an integer"),
        v.minValue(1, "port must be 1..65535"),
        v.maxValue(65535, "port must be 1..65535"),
      ),
    ),
    secure: v.optional(v.boolean("secure must be true or false")),
    auth: v.optional(
      v.strictObject(
        {
          user: v.pipe(v.string("auth.user must be a string"), v.nonEmpty("auth.user must not be empty")),
          pass: v.string("auth.pass must be a string"),
        },
        "auth must be an object { user, pass }",
      ),
    ),
    timeout_ms: v.optional(
      v.pipe(
        v.number("timeout_ms must be a number"),
        v.integer("timeout_ms must be an integer"),
        v.minValue(100, "timeout_ms must be at least 100"),
        v.maxValue(600_000, "timeout_ms must be at most 600000"),
      ),
      10_000,
    ),
    tls_reject_unauthorized: v.optional(v.boolean("tls_reject_unauthorized must be true or false"), true),
    // Default: on when credentials are configured for a host that is not loopback, else off (so a
    // local relay without TLS works). On, a network attacker cannot strip STARTTLS.
    require_tls: v.optional(v.boolean("require_tls must be true or false")),
  }, "options must be an object"),
  v.check((o) => (o.url === undefined) !== (o.host === undefined), "set exactly one of `url` or `host`"),
  v.check(
    (o) => o.url === undefined || (o.port === undefined && o.secure === undefined && o.auth === undefined),
    "`port`, `secure` and `auth` belong to the `host` form; with `url`, put them into the URL",
  ),
  v.transform((o) => {
    if (o.url !== undefined) {
      // Checked by the schema above.
      const parsed = parseSmtpUrl(o.url);
      if (parsed === null) throw new Error(URL_MESSAGE);
      return { o, endpoint: parsed };
    }
    const secure = o.secure ?? false;
    const endpoint = { host: o.host ?? "", port: o.port ?? (secure ? DEFAULT_SECURE_PORT : DEFAULT_PORT), secure, auth: o.auth ?? null };
    return { o, endpoint };
  }),
  v.check(({ o, endpoint }) => resolveRequireTls(o, endpoint) || endpoint.auth === null || endpoint.secure || isLoopbackHost(endpoint.host), PLAIN_AUTH_MESSAGE),
  v.transform(({ o, endpoint }): SmtpEndpoint => ({
    ...endpoint,
    timeoutMs: o.timeout_ms,
    tlsRejectUnauthorized: o.tls_reject_unauthorized,
    requireTls: resolveRequireTls(o, endpoint),
  })),
);

export type SmtpMailOptions = v.InferOutput<typeof optionsSchema>;

// The outbox id is used as the Message-ID's local part only when it cannot break the header.
const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;
const SAFE_DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** `<id@domain-of-from>` when both parts are safe; undefined lets nodemailer generate one. */
export function messageIdFor(msg: MailMessage): string | undefined {
  if (msg.id === undefined || !SAFE_ID.test(msg.id)) return undefined;
  const address = /<([^<>]*)>\s*$/.exec(msg.from)?.[1] ?? msg.from;
  const domain = address.slice(address.lastIndexOf("@") + 1).trim();
  if (!address.includes("@") || !SAFE_DOMAIN.test(domain)) return undefined;
  return `<${msg.id}@${domain}>`;
}

function transportOptions(endpoint: SmtpEndpoint): SMTPTransportOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.secure,
    auth: endpoint.auth === null ? undefined : { user: endpoint.auth.user, pass: endpoint.auth.pass },
    connectionTimeout: endpoint.timeoutMs,
    greetingTimeout: endpoint.timeoutMs,
    socketTimeout: endpoint.timeoutMs,
    dnsTimeout: endpoint.timeoutMs,
    tls: { rejectUnauthorized: endpoint.tlsRejectUnauthorized },
    requireTLS: endpoint.requireTls,
    // nodemailer's own logging would print SMTP traffic, AUTH included.
    logger: false,
    debug: false,
  };
}

/**
 * A 5xx answer to the envelope (MAIL FROM / RCPT TO) or to the message itself is final: the
 * server will refuse the same message again, so the outbox stops retrying it. Connection,
 * timeout, authentication and 4xx (temporary) failures stay retriable.
 */
function asPermanentIfRejected(e: unknown): unknown {
  const err = e as { code?: unknown; responseCode?: unknown; message?: unknown };
  const code = typeof err?.responseCode === "number" ? err.responseCode : 0;
  if (code >= 500 && code <= 599 && (err.code === "EENVELOPE" || err.code === "EMESSAGE")) {
    return new PermanentMailError(`the SMTP server rejected the message (${code}): ${String(err.message ?? "")}`, { cause: e });
  }
  return e;
}

const smtpMailProvider: MailProviderFactory<typeof optionsSchema> = defineMailProvider({
  id: "smtp",
  optionsSchema,
  create(endpoint): MailProvider {
    // nodemailer is loaded on first use: importing it costs ~12 ms of every server's cold start,
    // and most deployments (console, file) never need it.
    let transporter: Promise<Transporter> | null = null;
    const transport = (): Promise<Transporter> =>
      (transporter ??= import("nodemailer").then((m) => m.createTransport(transportOptions(endpoint))));
    return {
      id: "smtp",
      async send(msg: MailMessage): Promise<void> {
        const t = await transport();
        await t.sendMail({
          from: msg.from,
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
          html: msg.html,
          messageId: messageIdFor(msg),
          // Bodies are plain strings; never let them reference local files or URLs.
          disableFileAccess: true,
          disableUrlAccess: true,
        }).catch((e: unknown) => {
          throw asPermanentIfRejected(e);
        });
      },
      async verify(): Promise<void> {
        await (await transport()).verify();
      },
      async close(): Promise<void> {
        if (transporter !== null) (await transporter).close();
      },
    };
  },
});

export default smtpMailProvider;
