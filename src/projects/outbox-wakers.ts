/**
 * Per-project callbacks that wake a running mail sender (none when senders are off, e.g. in
 * tests). The sender registers its own (src/mail/sender.ts); the outbox writer and the pool (mail
 * written through another connection) call `wakeOutbox`. Kept with the runtime, below src/mail, so
 * the pool reaches it without importing the mail service.
 */
const wakers = new WeakMap<object, () => void>();

/** Nudges the project's running sender, if any. */
export function wakeOutbox(p: object): void {
  wakers.get(p)?.();
}

export function setOutboxWaker(p: object, wake: (() => void) | null): void {
  if (wake) wakers.set(p, wake);
  else wakers.delete(p);
}
