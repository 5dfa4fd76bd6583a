/**
 * The PostgreSQL groups this suite covers, built on one context. (The PostgreSQL store object
 * binds every group the same way; the suite builds them itself so it covers exactly these.)
 */
import type { PgGroupContext } from "../../../src/storage/postgres/context.ts";
import { pgAdmin } from "../../../src/storage/postgres/admin.ts";
import { pgAudit } from "../../../src/storage/postgres/audit.ts";
import { pgConsoleSessions } from "../../../src/storage/postgres/console-sessions.ts";
import { pgHousekeeping } from "../../../src/storage/postgres/housekeeping.ts";
import { pgKeys } from "../../../src/storage/postgres/keys.ts";
import { pgOutbox } from "../../../src/storage/postgres/outbox.ts";
import { pgSettings } from "../../../src/storage/postgres/settings.ts";

export function pgGroups(ctx: PgGroupContext) {
  return {
    outbox: pgOutbox(ctx),
    settings: pgSettings(ctx),
    keys: pgKeys(ctx),
    audit: pgAudit(ctx),
    consoleSessions: pgConsoleSessions(ctx),
    admin: pgAdmin(ctx),
    housekeeping: pgHousekeeping(ctx),
  };
}

export type PgContractGroups = ReturnType<typeof pgGroups>;
