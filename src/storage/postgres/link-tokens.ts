/**
 * The `linkTokens` group of the PostgreSQL store (and the `_email_changes` rows a change link
 * confirms). Consumption is one conditional `UPDATE ... RETURNING`: PostgreSQL re-checks the
 * condition on the row after a concurrent update commits, so of any number of uses from any
 * number of replicas exactly one gets the row.
 */
import type { LinkTokenRow, LinkTokens } from "../link-tokens.ts";
import { atomic, changes, rows, type PgRunner } from "./run.ts";
import type { PgGroupContext } from "./store.ts";

type Raw = { id: string; user_id: string; email: string };
const fromRaw = (x: Raw | undefined): LinkTokenRow | null => (x ? { id: x.id, userId: x.user_id, email: x.email } : null);

export function pgLinkTokens(ctx: PgGroupContext, r: PgRunner): LinkTokens {
  const tokens = `${ctx.schema}._link_tokens`;
  const emailChanges = `${ctx.schema}._email_changes`;
  return {
    async issue(x) {
      await r.q.unsafe(`INSERT INTO ${tokens} (id, token_hash, kind, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        x.id,
        x.hash,
        x.kind,
        x.userId,
        x.email,
        x.nowMs,
        x.expiresAtMs,
      ]);
    },
    async consume(kind, hash, nowMs) {
      const got = await rows<Raw>(
        r.q,
        `UPDATE ${tokens} SET used_at = $1
          WHERE token_hash = $2 AND kind = $3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
          RETURNING id, user_id, email`,
        [nowMs, hash, kind],
      );
      return got.length === 1 ? fromRaw(got[0]) : null;
    },
    async findUsed(kind, hash, nowMs) {
      const [x] = await rows<Raw>(
        r.q,
        `SELECT id, user_id, email FROM ${tokens}
          WHERE token_hash = $1 AND kind = $2 AND used_at IS NOT NULL AND revoked_at IS NULL AND expires_at > $3`,
        [hash, kind, nowMs],
      );
      return fromRaw(x);
    },
    async isLiveByHash(kind, hash, nowMs) {
      const found = await rows(
        r.q,
        `SELECT 1 AS live FROM ${tokens} WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3`,
        [hash, kind, nowMs],
      );
      return found.length > 0;
    },
    async isLive(id, nowMs) {
      const found = await rows(r.q, `SELECT 1 AS live FROM ${tokens} WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2`, [id, nowMs]);
      return found.length > 0;
    },
    revoke: (x) =>
      changes(
        r.q,
        `UPDATE ${tokens} SET revoked_at = $1
          WHERE user_id = $2 AND kind = $3 AND used_at IS NULL AND revoked_at IS NULL AND id <> $4
            AND id NOT IN (SELECT token_id FROM ${emailChanges} WHERE user_id = $2)`,
        [x.nowMs, x.userId, x.kind, x.exceptId ?? ""],
      ),
    addEmailChange: (c) =>
      atomic(r, async (q) => {
        // Only the newest request can be confirmed.
        await q.unsafe(
          `UPDATE ${tokens} SET revoked_at = $1 WHERE used_at IS NULL AND revoked_at IS NULL
             AND id IN (SELECT token_id FROM ${emailChanges} WHERE user_id = $2)`,
          [c.nowMs, c.userId],
        );
        await q.unsafe(
          `INSERT INTO ${emailChanges} (token_id, user_id, old_email, new_email, new_canonical, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [c.tokenId, c.userId, c.oldEmail, c.newEmail, c.newCanonical, c.nowMs],
        );
      }),
    async emailChangeOf(tokenId) {
      const [x] = await rows<{ user_id: string; old_email: string; new_email: string; new_canonical: string }>(
        r.q,
        `SELECT user_id, old_email, new_email, new_canonical FROM ${emailChanges} WHERE token_id = $1`,
        [tokenId],
      );
      return x ? { userId: x.user_id, oldEmail: x.old_email, newEmail: x.new_email, newCanonical: x.new_canonical } : null;
    },
    async revokeAfterEmailChange(userId, nowMs) {
      await r.q.unsafe(
        `UPDATE ${tokens} SET revoked_at = $1 WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL
           AND (kind = 'reset' OR id IN (SELECT token_id FROM ${emailChanges} WHERE user_id = $2))`,
        [nowMs, userId],
      );
    },
    prune: (beforeMs) => changes(r.q, `DELETE FROM ${tokens} WHERE expires_at < $1`, [beforeMs]),
  };
}
