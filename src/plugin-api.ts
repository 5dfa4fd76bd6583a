/**
 * The plugin API: the only module of `src/` that plugins may import.
 * A plugin is a factory (id + valibot options schema + create) returning a plain object.
 */
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

/** Delivers rendered messages. `send` rejects on failure; the outbox retries. */
export interface MailProvider {
  readonly id: string;
  send(msg: MailMessage): Promise<void>;
  /** Optional connectivity check at startup; a failure is reported, never fatal. */
  verify?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * Thrown (or any error with `permanent: true`) by `send` when the receiving side refused the
 * message for good (an SMTP 5xx for the recipient or the content): the outbox marks it failed at
 * once instead of retrying it for half an hour. Every other rejection is retried.
 */
export class MailRejectedError extends Error {
  override readonly name = "MailRejectedError";
  readonly permanent = true;
}

/** True for an error a provider marked as a final rejection (see MailRejectedError). */
export function isPermanentMailError(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { permanent?: unknown }).permanent === true;
}

/** Hashes and verifies passwords. Hashes must be self-describing (PHC-style prefix). */
export interface PasswordHasher {
  readonly id: string;
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** True when `hash` was made by this algorithm (any parameters). */
  canVerify(hash: string): boolean;
  /** True when `hash` was made with parameters other than this instance's. */
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
