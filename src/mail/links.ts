/** Building the URLs that go into emails. */

/**
 * Sets one query parameter on an absolute URL, keeping every other parameter byte for byte
 * (a re-serialization through URLSearchParams would rewrite encodings the app may depend on).
 * An existing parameter of the same name is replaced, so a redirect URL cannot smuggle in a
 * second `token` that the app might read first.
 */
export function withQueryParam(url: string, name: string, value: string): string {
  const hashAt = url.indexOf("#");
  const fragment = hashAt === -1 ? "" : url.slice(hashAt);
  const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = beforeHash.indexOf("?");
  const base = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt);
  const query = queryAt === -1 ? "" : beforeHash.slice(queryAt + 1);
  const kept = query.split("&").filter((pair) => pair !== "" && decodeKey(pair) !== name);
  kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return `${base}?${kept.join("&")}${fragment}`;
}

function decodeKey(pair: string): string {
  const key = pair.split("=", 1)[0].replace(/\+/g, " ");
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/** `scheme://host[:port]` of an absolute URL. */
export function originOf(url: string): string {
  return new URL(url).origin;
}
