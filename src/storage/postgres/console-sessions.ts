/** The `consoleSessions` group of the PostgreSQL store (`_console_sessions`): only a token's SHA-256 is stored. */
import type { ConsoleSessionsOps } from "../console-sessions.ts";
import { atomic, num, rows, tableOf, type PgOpsContext } from "./context.ts";

export function pgConsoleSessions(ctx: PgOpsContext): ConsoleSessionsOps {
  const t = tableOf(ctx, "_console_sessions");
  return {
    start: (tokenHash, keyMark, nowMs, expiresAtMs) =>
      atomic(ctx, async (tx) => {
        await tx.unsafe(`DELETE FROM ${t} WHERE expires_at <= $1`, [nowMs]);
        await tx.unsafe(`INSERT INTO ${t} (token_hash, key_mark, created_at, expires_at) VALUES ($1, $2, $3, $4)`, [tokenHash, keyMark, nowMs, expiresAtMs]);
      }),
    async find(tokenHash) {
      const [r] = await rows<{ key_mark: string; expires_at: unknown }>(ctx.sql, `SELECT key_mark, expires_at FROM ${t} WHERE token_hash = $1`, [tokenHash]);
      return r ? { keyMark: r.key_mark, expiresAtMs: num(r.expires_at) } : null;
    },
    async end(tokenHash) {
      await ctx.sql.unsafe(`DELETE FROM ${t} WHERE token_hash = $1`, [tokenHash]);
    },
    async endAll() {
      await ctx.sql.unsafe(`DELETE FROM ${t}`);
    },
  };
}
