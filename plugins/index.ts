/** Static registry of the built-in plugins. The project file picks one by id. */
import type { MailProviderFactory, PasswordHasherFactory } from "../src/plugin-api.ts";
import argon2idHasher from "./hasher-argon2id/index.ts";
import bcryptHasher from "./hasher-bcrypt/index.ts";
import scryptHasher from "./hasher-scrypt/index.ts";
import consoleMailProvider from "./mail-console/index.ts";
import fileMailProvider from "./mail-file/index.ts";
import httpMailProvider from "./mail-http/index.ts";
import smtpMailProvider from "./mail-smtp/index.ts";

export interface PluginRegistry {
  readonly hashers: Readonly<Record<string, PasswordHasherFactory>>;
  readonly mailProviders: Readonly<Record<string, MailProviderFactory>>;
}

/** Keyed by plugin id: hashers `argon2id` (default), `bcrypt`, `scrypt`; mail `console` (default), `file`, `smtp`, `http`. */
export const BUILTIN_PLUGINS: PluginRegistry = {
  hashers: {
    [argon2idHasher.id]: argon2idHasher,
    [bcryptHasher.id]: bcryptHasher,
    [scryptHasher.id]: scryptHasher,
  },
  mailProviders: {
    [consoleMailProvider.id]: consoleMailProvider,
    [fileMailProvider.id]: fileMailProvider,
    [smtpMailProvider.id]: smtpMailProvider,
    [httpMailProvider.id]: httpMailProvider,
  },
};
