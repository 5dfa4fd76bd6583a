/**
 * Types of the Latchkey plugin API, for editors and `tsc` only: a plugin file needs no import of
 * Latchkey's modules at run time (`import type` is erased). `latchkey plugin init` writes this
 * file beside a new plugin. For completion of `v`, install valibot beside it (optional).
 */
import type * as valibot from "valibot";

/** A fully rendered email. Header values come from the project file only, never from a user. */
export interface MailMessage {
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  /** Stable id of the outbox row (the same on every retry): an idempotency key. */
  readonly id?: string;
}

/** Delivers rendered messages. `send` rejects on failure; the outbox retries unless the error is permanent. */
export interface MailProvider {
  readonly id: string;
  send(msg: MailMessage): Promise<void>;
  verify?(): Promise<void>;
  close?(): Promise<void>;
}

/** Hashes and verifies passwords. Hashes must be self-describing (a prefix naming the algorithm). */
export interface PasswordHasher {
  readonly id: string;
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** True when `hash` was made by this algorithm (any parameters). */
  canVerify(hash: string): boolean;
  /** True when `hash` was made with parameters other than this instance's. */
  needsRehash?(hash: string): boolean;
}

export interface PluginContext {
  /** Directory of the project file; resolve relative option paths against it. */
  readonly baseDir: string;
  log(level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

export interface PluginFactory<Kind extends "mail" | "hasher", T, S extends valibot.GenericSchema = valibot.GenericSchema> {
  readonly kind: Kind;
  readonly id: string;
  readonly optionsSchema: S;
  create(options: valibot.InferOutput<S>, ctx: PluginContext): T;
}

export type MailProviderFactory<S extends valibot.GenericSchema = valibot.GenericSchema> = PluginFactory<"mail", MailProvider, S>;
export type PasswordHasherFactory<S extends valibot.GenericSchema = valibot.GenericSchema> = PluginFactory<"hasher", PasswordHasher, S>;

/** Thrown by `send` when retrying cannot help (the service refused the message for good). */
export declare class PermanentMailError extends Error {
  readonly permanent: true;
}

/** What the default export of a plugin file receives. */
export interface PluginApi {
  defineMailProvider<S extends valibot.GenericSchema>(def: Omit<MailProviderFactory<S>, "kind">): MailProviderFactory<S>;
  defineHasher<S extends valibot.GenericSchema>(def: Omit<PasswordHasherFactory<S>, "kind">): PasswordHasherFactory<S>;
  /** valibot; build options schemas with this copy. */
  readonly v: typeof valibot;
  readonly PermanentMailError: typeof PermanentMailError;
}

/** The default export of a plugin file. */
export type PluginModule = (api: PluginApi) =>
  | MailProviderFactory
  | PasswordHasherFactory
  | ReadonlyArray<MailProviderFactory | PasswordHasherFactory>
  | Promise<MailProviderFactory | PasswordHasherFactory | ReadonlyArray<MailProviderFactory | PasswordHasherFactory>>;
