/**
 * The contract suites are plain data (a name and an async function per check) so the same code
 * runs under `bun test` for the built-in plugins and inside the binary for `latchkey plugin test`.
 * A check fails by throwing a `ContractFailure` whose message says what was expected.
 */

/** One check of a contract suite. */
export interface ContractCheck {
  readonly name: string;
  /** Resolves when the check passes; rejects with a readable reason when it fails. */
  run(): Promise<void>;
  /** Set when the check cannot run with what was given; the text says what is missing. */
  readonly skip?: string;
}

export class ContractFailure extends Error {
  override readonly name = "ContractFailure";
}

/** Short, printable rendering of a value for failure messages. */
export function show(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (value === undefined) return "undefined";
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ContractFailure(message);
}

/** Deep equality (Bun.deepEquals). */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  if (!Bun.deepEquals(actual, expected)) throw new ContractFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** Resolves to the error a promise rejected with; fails the check when it resolves. */
export async function assertRejects(promise: Promise<unknown>, what: string): Promise<unknown> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new ContractFailure(`${what}: expected a rejection, but it resolved${outcome.value === undefined ? "" : ` with ${show(outcome.value)}`}`);
  return outcome.error;
}

/** A call that must answer without throwing; a throw fails the check with the call named. */
export async function callSafely<T>(fn: () => T | Promise<T>, what: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new ContractFailure(`${what} threw: ${err instanceof Error ? err.message : String(err)}`);
  }
}
