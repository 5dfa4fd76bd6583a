/**
 * `bun test` adapter of the hasher contract. The suite itself lives in
 * src/plugin-host/contracts/hasher.ts, which the binary carries for `latchkey plugin test`.
 */
import { describe, it } from "bun:test";
import type { PasswordHasher } from "../../src/plugin-api.ts";
import { hasherContractChecks } from "../../src/plugin-host/contracts/hasher.ts";

export {
  CHEAP_HASHER_OPTIONS,
  createCheapHashers,
  createHasher,
  createTestPluginContext,
  type BuiltinHasherId,
  type RecordedLog,
} from "../../src/plugin-host/contracts/hasher.ts";

/**
 * Registers the contract for one hasher.
 * @param name the plugin id; the built-in hashers with other ids provide the "other formats".
 * @param makeHasher a real instance at cheap parameters.
 * @param makeOtherParamsHasher the same algorithm with different (still cheap) parameters.
 */
export function runHasherContract(
  name: string,
  makeHasher: () => PasswordHasher,
  makeOtherParamsHasher: () => PasswordHasher,
): void {
  describe(`hasher contract: ${name}`, () => {
    const checks = hasherContractChecks({ name, hasher: makeHasher(), otherParams: makeOtherParamsHasher() });
    for (const check of checks) {
      if (check.skip !== undefined) throw new Error(`${check.name}: skipped (${check.skip})`);
      it(check.name, () => check.run());
    }
  });
}
