/** SPEC 7.3 / 8: no database file ever holds a link token in clear (token table, outbox, errors). */
import { sqliteOnly } from "../helpers/engine.ts";
import { afterEach, expect, it } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { linkTokenFor } from "../../src/mail/link-tokens.ts";
import type { MailMessage } from "../../src/plugin-api.ts";
import { APP, NEW_PASSWORD, demoProject, signup, tokenIn } from "./fixtures.ts";

const sqlite = sqliteOnly("reads the project's .db, -wal and -shm files for tokens in clear");

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.close();
  inst = undefined;
});

sqlite.it("leaves no link token in clear in the .db, -wal or -shm files, even when a provider echoes the message in its error", async () => {
  // Once echoing, the provider puts the whole message (link included) into its error text.
  let echoing = false;
  const rendered: MailMessage[] = [];
  inst = await createTestInstance([demoProject()], {
    mailSend: async (m, send) => {
      if (!echoing) return send(m);
      rendered.push(m);
      throw new Error(`550 rejected: ${m.text} ${m.html ?? ""}`);
    },
  });
  const p = inst.booted.projects.get("demo")!;
  await signup(inst, "alice@example.org");
  await signup(inst, "bob@example.org");
  await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "alice@example.org", redirect_url: `${APP}/reset` } });
  await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "bob@example.org", redirect_url: `${APP}/reset` } });
  await inst.outbox.deliver("demo");
  const sent = [...inst.mail.messages];
  const aliceReset = tokenIn(sent.find((m) => m.to === "alice@example.org" && m.subject.startsWith("Reset"))!);
  const aliceVerify = tokenIn(sent.find((m) => m.to === "alice@example.org" && m.subject.startsWith("Confirm"))!);
  expect((await inst.req("POST", "/p/demo/auth/reset-password", { body: { token: aliceReset, new_password: NEW_PASSWORD } })).status).toBe(200);
  expect((await inst.req("GET", `/p/demo/auth/verify?token=${aliceVerify}`)).status).toBe(200);

  echoing = true;
  await inst.req("POST", "/p/demo/auth/forgot-password", { body: { email: "bob@example.org", redirect_url: `${APP}/reset?again=1` } });
  await inst.outbox.deliver("demo");
  const errors = inst.outbox.rows("demo").filter((r) => r.template === "reset_password" && r.last_error !== null);
  expect(errors).toHaveLength(1);
  expect(errors[0].last_error).toContain("token=[redacted]");

  const tokens = (p.db.query("SELECT id FROM _link_tokens").all() as { id: string }[]).map((r) => linkTokenFor(p, r.id));
  expect(tokens.length).toBeGreaterThanOrEqual(5);
  for (const m of [...sent, ...rendered].filter((x) => x.text.includes("token="))) expect(tokens).toContain(tokenIn(m));

  const files = ["demo.db", "demo.db-wal", "demo.db-shm"].map((f) => join(inst!.dataDir, f)).filter(existsSync);
  expect(files.length).toBeGreaterThanOrEqual(2);
  const check = (): void => {
    for (const f of files.filter(existsSync)) {
      const bytes = readFileSync(f).toString("latin1");
      for (const t of tokens) expect(bytes.includes(t)).toBe(false);
    }
  };
  check();
  for (const t of tokens) expect(inst.logs.join("\n")).not.toContain(t);
  await inst.booted.close(); // checkpoint the WAL into the main file, then look again
  check();
});
