import { ApiError } from "./errors.ts";

/** SPEC §5: bodies over 64 KiB are refused with 413 (Bun's own limit is set higher on purpose). */
export const MAX_BODY_BYTES = 64 * 1024;

export type JsonObject = Record<string, unknown>;

/** The client closed the connection before its body was complete (not a server error). */
export class RequestAbortedError extends Error {
  constructor() {
    super("the client closed the connection before the request body was complete");
    this.name = "RequestAbortedError";
  }
}

/**
 * Reads the body as JSON whatever the Content-Type says (so `curl -d` works) and requires an
 * object. An empty body is `{}` only when `allowEmpty` (endpoints whose fields are all optional).
 */
export async function readJsonObject(request: Request, opts: { allowEmpty?: boolean } = {}): Promise<JsonObject> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw new ApiError("PAYLOAD_TOO_LARGE");
  const text = await readLimited(request).catch((e: unknown) => {
    if (e instanceof ApiError) throw e;
    if (request.signal.aborted || (e instanceof Error && e.name === "AbortError")) throw new RequestAbortedError();
    throw e;
  });
  if (text.trim() === "") {
    if (opts.allowEmpty) return {};
    throw new ApiError("VALIDATION_MALFORMED_JSON", { message: "The request body is empty; a JSON object is expected." });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("VALIDATION_MALFORMED_JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ApiError("VALIDATION_MALFORMED_JSON");
  return value as JsonObject;
}

/** The body as UTF-8 text, refused past 64 KiB (also for a chunked body without Content-Length). */
export async function readLimited(request: Request): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new ApiError("PAYLOAD_TOO_LARGE");
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new ApiError("VALIDATION_MALFORMED_JSON", { message: "The request body is not valid UTF-8." });
  }
}
