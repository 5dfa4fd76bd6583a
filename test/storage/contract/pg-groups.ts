/**
 * The PostgreSQL groups this suite covers, built on one context. (The PostgreSQL store object
 * binds every group the same way; the suite builds them itself so it covers exactly these.)
 */
import type { PgGroupContext } from "../../../src/storage/postgres/context.ts";
import { pgOutbox } from "../../../src/storage/postgres/outbox.ts";

export function pgGroups(ctx: PgGroupContext) {
  return {
    outbox: pgOutbox(ctx),
  };
}

export type PgContractGroups = ReturnType<typeof pgGroups>;
