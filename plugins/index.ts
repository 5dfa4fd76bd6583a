/** Static registry of the built-in plugins. The project file picks one by id. */
import type { MailProviderFactory, PasswordHasherFactory } from "../src/plugin-api.ts";

export interface PluginRegistry {
  readonly hashers: Readonly<Record<string, PasswordHasherFactory>>;
  readonly mailProviders: Readonly<Record<string, MailProviderFactory>>;
}

// Filled in by the plugin folders (hasher-argon2id, hasher-bcrypt, hasher-scrypt, mail-console, mail-file, mail-smtp).
export const BUILTIN_PLUGINS: PluginRegistry = {
  hashers: {},
  mailProviders: {},
};
