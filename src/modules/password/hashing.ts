/**
 * The project's hash service with its overload signal turned into the public error: past the
 * queue limit the server answers 503 SERVICE_UNAVAILABLE with Retry-After (SPEC 9.2) instead of
 * letting memory grow. Never call these inside a database transaction: they await.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { HashQueueFullError, type HashVerification } from "../../crypto/hash-service.ts";
import { ApiError } from "../../http/errors.ts";

function overloaded(e: unknown): never {
  if (e instanceof HashQueueFullError) {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      message: "The server is busy hashing passwords.",
      retryAfterSeconds: e.retryAfterSeconds,
      cause: e,
    });
  }
  throw e;
}

export function hashPassword(p: Pick<ProjectRuntime, "hashes">, password: string): Promise<string> {
  return p.hashes.hash(password).catch(overloaded);
}

export function verifyPassword(p: Pick<ProjectRuntime, "hashes">, password: string, hash: string): Promise<HashVerification> {
  return p.hashes.verify(password, hash).catch(overloaded);
}

/** One verification against a dummy hash: an unknown account costs what a wrong password costs. */
export function verifyDummyPassword(p: Pick<ProjectRuntime, "hashes">, password: string): Promise<void> {
  return p.hashes.verifyDummy(password).catch(overloaded);
}
