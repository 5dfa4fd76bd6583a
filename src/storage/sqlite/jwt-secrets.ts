import type { Database } from "bun:sqlite";
import { seal, unseal } from "../../crypto/seal.ts";
import type { RandomBytes } from "../../crypto/random.ts";
import { DbOpenError } from "./open.ts";

/** The project's JWT signing secret, sealed under a server-key-derived key in the database. */
export interface JwtSecrets {
  current(): Uint8Array;
  /** Retires the current secret: every access token signed with it is refused from now on. */
  rotate(nowIso: string): void;
}

export function createJwtSecrets(db: Database, opts: { sealKey: Uint8Array; projectId: string; random: RandomBytes; nowIso: string }): JwtSecrets {
  const aad = `jwt-secret:${opts.projectId}`;
  const load = (): Uint8Array | null => {
    const row = db.query("SELECT secret_enc FROM _jwt_secrets WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1").get() as
      | { secret_enc: Uint8Array }
      | null;
    if (!row) return null;
    try {
      return unseal(opts.sealKey, row.secret_enc, aad);
    } catch {
      throw new DbOpenError(
        `project ${opts.projectId}: its JWT secret cannot be opened with this server key (was server.key or LATCHKEY_SERVER_KEY changed?)`,
      );
    }
  };
  const insert = db.query("INSERT INTO _jwt_secrets(secret_enc, created_at) VALUES (?, ?)");
  const retire = db.query("UPDATE _jwt_secrets SET retired_at = ? WHERE retired_at IS NULL");
  const create = (nowIso: string): Uint8Array => {
    const secret = opts.random(32);
    db.transaction(() => {
      retire.run(nowIso);
      insert.run(seal(opts.sealKey, secret, aad), nowIso);
    })();
    return secret;
  };
  let secret = load() ?? create(opts.nowIso);
  return {
    current: () => secret,
    rotate(nowIso) {
      secret = create(nowIso);
    },
  };
}
