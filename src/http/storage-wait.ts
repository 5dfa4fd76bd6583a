import type { ProjectStore } from "../storage/store.ts";
import type { ProjectPool } from "../projects/pool.ts";
import { ProjectOpenError } from "../storage/open-error.ts";
import { ApiError } from "./errors.ts";

/** How long a request waits for another process to release its project's write lock. */
export const STORAGE_WAIT_BUDGET_MS = 2_000;
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 100;

/** The 503 of a project whose database another process keeps locked (counted as storage busy). */
export class StorageLockedError extends ApiError {
  constructor() {
    super("SERVICE_UNAVAILABLE", { message: "The project's storage is locked by another process.", retryAfterSeconds: 1 });
  }
}

/**
 * Waits, without blocking the event loop, while another process holds the project's write
 * lock: polls with backoff (5 ms doubling to 100 ms) for up to the budget, then answers 503 with
 * Retry-After. So a locked database costs only its own project's requests; every other project
 * and /healthz keep answering at once. The check runs before the handler, so nothing is half done.
 */
export async function waitForStorage(p: { readonly store: Pick<ProjectStore, "writeLockedElsewhere"> }, budgetMs: number = STORAGE_WAIT_BUDGET_MS): Promise<void> {
  if (!(await p.store.writeLockedElsewhere())) return;
  const deadline = Date.now() + budgetMs;
  let pollMs = FIRST_POLL_MS;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new StorageLockedError();
    }
    await Bun.sleep(Math.min(pollMs, left));
    pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
    if (!(await p.store.writeLockedElsewhere())) return;
  }
}

/**
 * Opens a closed project before its request is handled, waiting the same way while another
 * process holds its write lock (opening checks that the file is writable and reconciles keys, so
 * it needs the lock for an instant): the lock costs this project's requests a short wait, or a
 * 503 after the budget, never a failed project. Any other failure is left to `requireProject`.
 */
export async function openWaitingForLock(projects: ProjectPool, id: string, budgetMs: number = STORAGE_WAIT_BUDGET_MS): Promise<void> {
  if (!projects.has(id) || projects.openRuntime(id) !== null) return;
  const deadline = Date.now() + budgetMs;
  let pollMs = FIRST_POLL_MS;
  for (;;) {
    try {
      projects.get(id);
      return;
    } catch (e) {
      if (!(e instanceof ProjectOpenError && e.busy)) return;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new StorageLockedError();
    await Bun.sleep(Math.min(pollMs, left));
    pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
  }
}
