/**
 * `bun test` adapter of the mail contract. The suite itself lives in
 * src/plugin-host/contracts/mail.ts, which the binary carries for `latchkey plugin test`.
 */
import { describe, it } from "bun:test";
import { mailContractChecks, type MailContractOptions, type MailHarness } from "../../src/plugin-host/contracts/mail.ts";

export { sampleMessage, type MailContractOptions, type MailHarness, type ObservedMail } from "../../src/plugin-host/contracts/mail.ts";

/** Registers the contract for one mail provider. */
export function runMailContract(name: string, setup: () => Promise<MailHarness>, options: MailContractOptions): void {
  describe(`mail provider contract: ${name}`, () => {
    for (const check of mailContractChecks(name, setup, options)) {
      if (check.skip !== undefined) throw new Error(`${check.name}: skipped (${check.skip})`);
      it(check.name, () => check.run());
    }
  });
}
