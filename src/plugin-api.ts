/**
 * The plugin API: the only module of `src/` that plugins may import.
 * A plugin is a factory (id + valibot options schema + create) returning a plain object.
 */
import * as valibot from "valibot";
import type { GenericSchema, InferOutput } from "valibot";

/** A fully rendered email. Header values come from the project file only, never from a user. */
export interface MailMessage {
  /** Recipient address (the stored address of the user). */
  readonly to: string;
  /** Sender, from the project file's `mail.from`. */
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  /** Stable id of the outbox row, usable as an idempotency key / Message-ID seed. */
  readonly id?: string;
}

/**
 * Rejection of `send` that retrying cannot fix (the receiving side refused the message for good:
 * an SMTP 5xx for the recipient or the content, an HTTP 4xx). The outbox marks the message failed
 * at once instead of retrying it for half an hour; every other rejection is retried.
 * Any error with `permanent: true` counts the same, so a plugin may also throw its own.
 */
export class PermanentMailError extends Error {
  override readonly name: string = "PermanentMailError";
  readonly permanent = true as const;
}

/** True for a `PermanentMailError` or any error object carrying `permanent: true`. */
export function isPermanentMailError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { permanent?: unknown }).permanent === true;
}

/** Delivers rendered messages. `send` rejects on failure; the outbox retries (unless the error is permanent). */
export interface MailProvider {
  readonly id: string;
  send(msg: MailMessage): Promise<void>;
  /** Optional connectivity check at startup; a failure is reported, never fatal. */
  verify?(): Promise<void>;
  close?(): Promise<void>;
}

/** Hashes and verifies passwords. Hashes must be self-describing (PHC-style prefix). */
export interface PasswordHasher {
  readonly id: string;
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** True when `hash` was made by this algorithm (any parameters). */
  canVerify(hash: string): boolean;
  /**
   * True when `hash` should be replaced by a fresh hash of this instance: it was made with
   * weaker parameters (never merely different ones — lowering a cost must not rewrite stronger
   * hashes, SPEC 9.2) or in an outdated format of this algorithm.
   */
  needsRehash?(hash: string): boolean;
}

/** What the host passes to a plugin's `create`. */
export interface PluginContext {
  /** Directory of the project file; resolve relative option paths against it. */
  readonly baseDir: string;
  /** Structured log line; never pass secrets. */
  log(level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

/** A plugin factory: an id, an options schema, and `create`. */
export interface PluginFactory<Kind extends "mail" | "hasher", T, S extends GenericSchema = GenericSchema> {
  readonly kind: Kind;
  readonly id: string;
  /** Valibot schema for the plugin's `options` in the project file (defaults applied by it). */
  readonly optionsSchema: S;
  create(options: InferOutput<S>, ctx: PluginContext): T;
}

export type MailProviderFactory<S extends GenericSchema = GenericSchema> = PluginFactory<"mail", MailProvider, S>;
export type PasswordHasherFactory<S extends GenericSchema = GenericSchema> = PluginFactory<"hasher", PasswordHasher, S>;

/** Declares a mail provider plugin. */
export function defineMailProvider<S extends GenericSchema>(
  def: Omit<MailProviderFactory<S>, "kind">,
): MailProviderFactory<S> {
  return { kind: "mail", ...def };
}

/** Declares a password hasher plugin. */
export function defineHasher<S extends GenericSchema>(
  def: Omit<PasswordHasherFactory<S>, "kind">,
): PasswordHasherFactory<S> {
  return { kind: "hasher", ...def };
}

/**
 * What the default export of a plugin file (`serve --plugins DIR`) receives, so such a file needs
 * no import of Latchkey's modules: the define helpers, valibot as `v` (options schemas must be
 * built with this copy, the one the host validates with) and `PermanentMailError`.
 */
export interface PluginApi {
  readonly defineMailProvider: typeof defineMailProvider;
  readonly defineHasher: typeof defineHasher;
  readonly v: typeof valibot;
  readonly PermanentMailError: typeof PermanentMailError;
}

/** The one plugin API object handed to every plugin file. */
export const PLUGIN_API: PluginApi = Object.freeze({ defineMailProvider, defineHasher, v: valibot, PermanentMailError });
