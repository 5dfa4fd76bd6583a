import { afterAll, describe, expect, it } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, safeParse } from "valibot";
import { createTestPluginContext } from "../../test/contracts/hasher-contract.ts";
import { runMailContract, sampleMessage } from "../../test/contracts/mail-contract.ts";
import type { MailHarness } from "../../test/contracts/mail-contract.ts";
import type { MailProvider } from "../../src/plugin-api.ts";
import fileMailProvider from "./index.ts";
import type { StoredMailFile } from "./index.ts";

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-mail-file-"));
  tempDirs.push(dir);
  return dir;
}

function createProvider(baseDir: string, dir: string): MailProvider {
  return fileMailProvider.create(parse(fileMailProvider.optionsSchema, { dir }), createTestPluginContext(baseDir));
}

async function readStored(dir: string): Promise<{ name: string; doc: StoredMailFile }[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(
    names.map(async (name) => ({ name, doc: JSON.parse(await readFile(join(dir, name), "utf8")) as StoredMailFile })),
  );
}

async function setup(): Promise<MailHarness> {
  const base = await makeTempDir();
  const provider = createProvider(base, "outbox");
  return {
    provider,
    delivered: async () =>
      (await readStored(join(base, "outbox"))).map(({ doc }) => ({ to: doc.to, subject: doc.subject, body: doc.text })),
  };
}

runMailContract("file", setup, {
  hasVerify: true,
  makeUndeliverable: async () => {
    const base = await makeTempDir();
    await writeFile(join(base, "not-a-dir"), "");
    return createProvider(base, "not-a-dir/outbox");
  },
});

describe("file mail options", () => {
  it("requires a non-empty dir and refuses other keys", () => {
    expect(safeParse(fileMailProvider.optionsSchema, {}).success).toBe(false);
    expect(safeParse(fileMailProvider.optionsSchema, { dir: "" }).success).toBe(false);
    expect(safeParse(fileMailProvider.optionsSchema, { dir: "mail", format: "eml" }).success).toBe(false);
    expect(parse(fileMailProvider.optionsSchema, { dir: "mail" })).toEqual({ dir: "mail" });
  });
});

describe("file mail delivery", () => {
  it("writes one JSON document per message with every field, named <timestamp>-<id>.json", async () => {
    const base = await makeTempDir();
    const before = Date.now();
    await createProvider(base, "mail").send(sampleMessage({ html: "<p>hi</p>" }));
    const [stored, ...rest] = await readStored(join(base, "mail"));
    expect(rest).toEqual([]);
    expect(stored.name).toMatch(/^\d{8}T\d{9}Z-01J0000000000000000000000A\.json$/);
    expect(Object.keys(stored.doc).sort()).toEqual(["date", "from", "html", "id", "subject", "text", "to"]);
    expect(stored.doc).toMatchObject({
      id: "01J0000000000000000000000A",
      from: "Demo App <no-reply@example.com>",
      to: "alice@example.org",
      html: "<p>hi</p>",
    });
    expect(Date.parse(stored.doc.date)).toBeGreaterThanOrEqual(before - 1);
  });

  it("stores null for a missing id or html and uses a random name part instead of the id", async () => {
    const base = await makeTempDir();
    await createProvider(base, "mail").send(sampleMessage({ id: undefined }));
    const [stored] = await readStored(join(base, "mail"));
    expect(stored.doc.id).toBeNull();
    expect(stored.doc.html).toBeNull();
    expect(stored.name).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{16}\.json$/);
  });

  it("keeps an id that is not file-name safe out of the file name", async () => {
    const base = await makeTempDir();
    await createProvider(base, "mail").send(sampleMessage({ id: "../../escape" }));
    const [stored, ...rest] = await readStored(join(base, "mail"));
    expect(rest).toEqual([]);
    expect(stored.name).not.toContain("escape");
    expect(stored.doc.id).toBe("../../escape");
    expect(await readdir(base)).toEqual(["mail"]);
  });

  it("creates missing nested directories and accepts an absolute dir", async () => {
    const base = await makeTempDir();
    const absolute = join(base, "a", "b", "c");
    await createProvider("/nonexistent-base", absolute).send(sampleMessage());
    expect(await readStored(absolute)).toHaveLength(1);
  });

  it("leaves no temporary files behind after concurrent sends", async () => {
    const base = await makeTempDir();
    const provider = createProvider(base, "mail");
    await Promise.all(Array.from({ length: 20 }, (_, i) => provider.send(sampleMessage({ id: `m-${i}` }))));
    const names = await readdir(join(base, "mail"));
    expect(names).toHaveLength(20);
    expect(names.every((n) => n.endsWith(".json") && !n.startsWith("."))).toBe(true);
  });

  it("fails verify() when the directory cannot be created", async () => {
    const base = await makeTempDir();
    await writeFile(join(base, "file"), "");
    await expect(createProvider(base, "file/mail").verify?.()).rejects.toBeInstanceOf(Error);
  });
});
