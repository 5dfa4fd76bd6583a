import type { Database, Statement } from "bun:sqlite";

/**
 * Asynchronous transactions on one synchronous bun:sqlite connection.
 *
 * A transaction's callback is async (the interface is), so between its awaits other requests'
 * continuations may run on the same connection. The gate keeps them out: while a transaction is
 * open, every operation that is not part of it waits for the commit (or rollback) before it runs,
 * and so does the next transaction. When no transaction is open (nearly always: a callback that
 * awaits only store operations finishes within one turn of the event loop) an operation costs one
 * boolean check.
 */
export class TransactionGate {
  #open = false;
  #waiters: (() => void)[] = [];
  readonly #begin: Statement;
  readonly #commit: Statement;
  readonly #rollback: Statement;

  constructor(private readonly db: Database) {
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commit = db.prepare("COMMIT");
    this.#rollback = db.prepare("ROLLBACK");
  }

  /** True while a transaction is open on this connection. */
  get open(): boolean {
    return this.#open;
  }

  /** Resolves at the next commit or rollback (callers check `open` again: see the loops below). */
  #nextClose(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves once no transaction is open. */
  async idle(): Promise<void> {
    while (this.#open) await this.#nextClose();
  }

  /** Runs `fn` between BEGIN IMMEDIATE and COMMIT; any throw rolls back. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    // Checked and taken in the same turn: no other waiter can slip in between.
    while (this.#open) await this.#nextClose();
    this.#open = true;
    try {
      this.#begin.run();
      try {
        const result = await fn();
        this.#commit.run();
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.#rollback.run();
        throw e;
      }
    } finally {
      this.#open = false;
      // Every waiter re-checks: the first to run may open the next transaction, the rest wait again.
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  /** Wraps a synchronous operation for callers outside any transaction: waits while one is open. */
  outside<A extends unknown[], R>(op: (...args: A) => R): (...args: A) => Promise<R> {
    return async (...args: A): Promise<R> => {
      while (this.#open) await this.#nextClose();
      return op(...args);
    };
  }

  /** Wraps a synchronous operation for use inside a transaction (no gate: the caller holds it). */
  inside<A extends unknown[], R>(op: (...args: A) => R): (...args: A) => Promise<R> {
    return async (...args: A): Promise<R> => op(...args);
  }
}
