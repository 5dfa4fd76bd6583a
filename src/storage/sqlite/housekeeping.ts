import type { Database } from "bun:sqlite";
import type { HousekeepingOps, PruneCutoffs, PruneKey, PruneSet } from "../housekeeping.ts";
import type { Sync } from "./store.ts";
import { sessionPruners, type PruneStep } from "./prune-window.ts";
import { drainWal } from "./checkpointer.ts";

/** The parameters each set's condition takes (?3, ?4 … of src/storage/sqlite/prune-window.ts). */
const PARAMS: Readonly<Record<PruneSet, (c: PruneCutoffs) => number[]>> = {
  expiredRefreshTokens: (c) => [c.nowMs],
  endedSessions: (c) => [c.endedBeforeMs, c.idleBeforeMs],
  orphanRefreshTokens: () => [],
  rotatedRecords: (c) => [c.nowMs],
  unverifiedMarks: () => [],
};

export function createHousekeeping(db: Database): Sync<HousekeepingOps> {
  let pruners: ReturnType<typeof sessionPruners> | null = null;
  const prunerOf = (set: PruneSet) => {
    const pr = (pruners ??= sessionPruners(db));
    switch (set) {
      case "expiredRefreshTokens":
        return pr.expiredTokens;
      case "endedSessions":
        return pr.endedSessions;
      case "orphanRefreshTokens":
        return pr.orphanTokens;
      case "rotatedRecords":
        return pr.rotated;
      case "unverifiedMarks":
        return pr.unverifiedMarks;
    }
  };
  return {
    // Asynchronous inside (a message to the checkpoint thread): the store's wrapper adopts the promise.
    settle: () => drainWal(db),
    pruneWindow(set, afterKey, windowRows, cutoffs) {
      const step: PruneStep | null = prunerOf(set)(afterKey, windowRows, PARAMS[set](cutoffs));
      return step && { last: step.last as PruneKey, examined: step.examined, deleted: step.deleted };
    },
  };
}
