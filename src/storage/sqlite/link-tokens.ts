/** The `linkTokens` group of the SQLite store (and the `_email_changes` rows a change link confirms). */
import type { LinkTokenRow, LinkTokensOps, PendingEmailChange } from "../link-tokens.ts";
import { prepared } from "./prepared.ts";
import type { SqliteStoreContext, Sync } from "./store.ts";

type Raw = { id: string; user_id: string; email: string };
const fromRaw = (r: Raw | null | undefined): LinkTokenRow | null => (r ? { id: r.id, userId: r.user_id, email: r.email } : null);

export function sqliteLinkTokens(ctx: SqliteStoreContext): Sync<LinkTokensOps> {
  const db = ctx.db;
  const insert = prepared(db, "INSERT INTO _link_tokens(id, token_hash, kind, user_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const consume = prepared(
    db,
    `UPDATE _link_tokens SET used_at = ?1
      WHERE token_hash = ?2 AND kind = ?3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1
      RETURNING id, user_id, email`,
  );
  const findUsed = prepared(
    db,
    `SELECT id, user_id, email FROM _link_tokens
      WHERE token_hash = ? AND kind = ? AND used_at IS NOT NULL AND revoked_at IS NULL AND expires_at > ?`,
  );
  const liveByHash = prepared(
    db,
    "SELECT 1 AS live FROM _link_tokens WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
  );
  const liveById = prepared(db, "SELECT 1 AS live FROM _link_tokens WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?");
  const revoke = prepared(
    db,
    `UPDATE _link_tokens SET revoked_at = ?1
      WHERE user_id = ?2 AND kind = ?3 AND used_at IS NULL AND revoked_at IS NULL AND id <> ?4
        AND id NOT IN (SELECT token_id FROM _email_changes WHERE user_id = ?2)`,
  );
  const revokePendingChanges = prepared(
    db,
    `UPDATE _link_tokens SET revoked_at = ?1 WHERE used_at IS NULL AND revoked_at IS NULL
       AND id IN (SELECT token_id FROM _email_changes WHERE user_id = ?2)`,
  );
  const insertChange = prepared(
    db,
    "INSERT INTO _email_changes(token_id, user_id, old_email, new_email, new_canonical, created_at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const changeOf = prepared(db, "SELECT user_id, old_email, new_email, new_canonical FROM _email_changes WHERE token_id = ?");
  const revokeAfterChange = prepared(
    db,
    `UPDATE _link_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND used_at IS NULL AND revoked_at IS NULL
       AND (kind = 'reset' OR id IN (SELECT token_id FROM _email_changes WHERE user_id = ?2))`,
  );
  const prune = prepared(db, "DELETE FROM _link_tokens WHERE expires_at < ?");

  const addChangeTx = db.transaction((c: PendingEmailChange & { tokenId: string; nowMs: number }): void => {
    // Only the newest request can be confirmed.
    revokePendingChanges().run(c.nowMs, c.userId);
    insertChange().run(c.tokenId, c.userId, c.oldEmail, c.newEmail, c.newCanonical, c.nowMs);
  });

  return {
    issue(r) {
      insert().run(r.id, r.hash, r.kind, r.userId, r.email, r.nowMs, r.expiresAtMs);
    },
    consume(kind, hash, nowMs) {
      const rows = consume().all(nowMs, hash, kind) as Raw[];
      return rows.length === 1 ? fromRaw(rows[0]) : null;
    },
    findUsed: (kind, hash, nowMs) => fromRaw(findUsed().get(hash, kind, nowMs) as Raw | null),
    isLiveByHash: (kind, hash, nowMs) => liveByHash().get(hash, kind, nowMs) !== null,
    isLive: (id, nowMs) => liveById().get(id, nowMs) !== null,
    revoke: (a) => revoke().run(a.nowMs, a.userId, a.kind, a.exceptId ?? "").changes,
    addEmailChange: (c) => addChangeTx(c),
    emailChangeOf(tokenId) {
      const r = changeOf().get(tokenId) as { user_id: string; old_email: string; new_email: string; new_canonical: string } | null;
      return r ? { userId: r.user_id, oldEmail: r.old_email, newEmail: r.new_email, newCanonical: r.new_canonical } : null;
    },
    revokeAfterEmailChange(userId, nowMs) {
      revokeAfterChange().run(nowMs, userId);
    },
    prune: (beforeMs) => prune().run(beforeMs).changes,
  };
}
