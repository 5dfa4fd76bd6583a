/**
 * The PostgreSQL groups this suite covers, built on one context. (The PostgreSQL store object
 * binds every group the same way; the suite builds them itself so it covers exactly these.)
 */
import type { PgGroupContext } from "../../../src/storage/postgres/context.ts";
import { pgKeys } from "../../../src/storage/postgres/keys.ts";
import { pgOutbox } from "../../../src/storage/postgres/outbox.ts";
import { pgSettings } from "../../../src/storage/postgres/settings.ts";

export function pgGroups(ctx: PgGroupContext) {
  return {
    outbox: pgOutbox(ctx),
    settings: pgSettings(ctx),
    keys: pgKeys(ctx),
  };
}

export type PgContractGroups = ReturnType<typeof pgGroups>;
