/** Deep freeze for the loaded configuration: no module can change a project's config after load. */

export function deepFreeze<T>(value: T): T {
  // Typed arrays cannot be frozen (a plugin's options schema may output bytes); they are left as is.
  if (value !== null && typeof value === "object" && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
