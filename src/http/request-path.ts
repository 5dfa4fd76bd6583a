/**
 * The request path as the client sent it (Bun has already removed dot segments from
 * `request.url`), read without the URL parser: the path starts at the first `/` after the scheme
 * and host, whatever the Host header's length.
 */
export function rawPathOf(url: string): string {
  const hostStart = url.indexOf("://");
  const start = url.indexOf("/", hostStart === -1 ? 0 : hostStart + 3);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? undefined : query);
}

const PROJECT_SEGMENT_RE = /^\/p\/([^/]*)/;

/** The `{id}` segment of `/p/{id}/...` exactly as written (still %-encoded), or null. */
export function rawProjectSegment(path: string): string | null {
  const m = PROJECT_SEGMENT_RE.exec(path);
  return m ? m[1] : null;
}

/** True when every `%` of the path starts a valid escape and the escapes decode as UTF-8. */
export function hasWellFormedEscapes(path: string): boolean {
  if (!path.includes("%")) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}
