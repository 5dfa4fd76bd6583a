/** Minimal view of Elysia's `set` that routes pass to helpers (routes alone touch Elysia's context). */
export interface ResponseSet {
  status?: number | string;
  headers: Record<string, string | number>;
}

/** The success envelope. Responses carrying tokens or user data are marked `no-store`. */
export function ok<T>(set: ResponseSet, data: T, opts: { status?: number; noStore?: boolean } = {}): { data: T } {
  set.status = opts.status ?? 200;
  if (opts.noStore !== false) set.headers["cache-control"] = "no-store";
  return { data };
}

export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^bearer[ \t]+(.*)$/i.exec(header.trim());
  if (!m) return null;
  const t = m[1].trim();
  return t === "" ? null : t;
}
