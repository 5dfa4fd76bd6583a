import type { ProjectConfig } from "../config/types.ts";
import { ApiError } from "./errors.ts";

/**
 * `auth.require_public_key`: end-user endpoints need `X-Public-Key: pk_...` (SPEC 6.1). The key
 * identifies the client app; it is not a secret, but it lets an operator cut off a leaked
 * integration by rotating it.
 */
export function checkPublicKey(
  p: { readonly config: ProjectConfig; readonly keys: { matches(kind: "public", presented: string): boolean } },
  request: Request,
): void {
  if (!p.config.auth.requirePublicKey) return;
  const presented = request.headers.get("x-public-key");
  if (presented === null || presented.trim() === "") throw new ApiError("PUBLIC_KEY_REQUIRED");
  if (!p.keys.matches("public", presented.trim())) throw new ApiError("PUBLIC_KEY_INVALID");
}
