/**
 * The example plugin files, loaded in process exactly as the binary loads them: the Postmark
 * provider against a local fake of Postmark's API (never the internet), and the pbkdf2 hasher
 * against a vector computed by another implementation (Python's hashlib).
 */
import { afterAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { parse } from "valibot";
import { ROOT } from "../cli/run.ts";
import { importPluginFile } from "../../src/plugin-host/load-plugin-files.ts";
import { createTestPluginContext } from "../../src/plugin-host/contracts/hasher.ts";
import { sampleMessage } from "../../src/plugin-host/contracts/mail.ts";
import { isPermanentMailError, PLUGIN_API, type MailProvider, type MailProviderFactory, type PasswordHasherFactory } from "../../src/plugin-api.ts";
import type { PluginApi as DeclaredPluginApi, MailMessage as DeclaredMailMessage, PasswordHasher as DeclaredHasher } from "../../examples/plugins/latchkey-plugin.d.ts";
import type { MailMessage, PasswordHasher } from "../../src/plugin-api.ts";

// Compile-time: the declarations shipped for plugin authors match the real plugin API (tsc checks these).
const declaredApi: DeclaredPluginApi = PLUGIN_API;
const messageBothWays: [DeclaredMailMessage, MailMessage] = [sampleMessage(), sampleMessage() as DeclaredMailMessage];
type HasherBothWays = [DeclaredHasher extends PasswordHasher ? true : false, PasswordHasher extends DeclaredHasher ? true : false];
const hasherBothWays: HasherBothWays = [true, true];

const TOKEN = "server-token-1234";

interface PostmarkCall {
  method: string;
  path: string;
  token: string | null;
  accept: string | null;
  body: any;
}

/** Postmark's API as far as the plugin uses it: POST /email and GET /server, token checked. */
function startFakePostmark(script: { status: number; body: unknown }[] = []) {
  const calls: PostmarkCall[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const text = await req.text();
      calls.push({ method: req.method, path: url.pathname, token: req.headers.get("x-postmark-server-token"), accept: req.headers.get("accept"), body: text ? JSON.parse(text) : null });
      if (req.headers.get("x-postmark-server-token") !== TOKEN) return Response.json({ ErrorCode: 10, Message: "Bad or missing Server API token." }, { status: 401 });
      if (req.method === "GET" && url.pathname === "/server") return Response.json({ ID: 1, Name: "Demo" });
      if (req.method !== "POST" || url.pathname !== "/email") return Response.json({ ErrorCode: 404, Message: "not found" }, { status: 404 });
      const next = script.shift();
      if (next) return Response.json(next.body, { status: next.status });
      return Response.json({ To: "x", SubmittedAt: new Date().toISOString(), MessageID: crypto.randomUUID(), ErrorCode: 0, Message: "OK" });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, calls, close: () => server.stop(true) };
}

const fakes: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

async function postmark(apiUrl: string, token = TOKEN): Promise<MailProvider> {
  const [factory] = (await importPluginFile(join(ROOT, "examples/plugins/mail-postmark.ts"))) as MailProviderFactory[];
  return factory.create(parse(factory.optionsSchema, { server_token: token, api_url: apiUrl, timeout_ms: 2000 }), createTestPluginContext());
}

describe("examples/plugins/mail-postmark.ts", () => {
  it("the shipped declarations match the plugin API", () => {
    expect(Object.keys(declaredApi).sort()).toEqual(["PermanentMailError", "defineHasher", "defineMailProvider", "v"]);
    expect(messageBothWays[0].to).toBe("alice@example.org");
    expect(hasherBothWays).toEqual([true, true]);
  });

  it("POSTs /email with the server token and Postmark's field names", async () => {
    const fake = startFakePostmark();
    fakes.push(fake);
    await (await postmark(fake.url)).send(sampleMessage({ html: "<p>hi</p>" }));
    expect(fake.calls).toEqual([{
      method: "POST",
      path: "/email",
      token: TOKEN,
      accept: "application/json",
      body: {
        From: "Demo App <no-reply@example.com>",
        To: "alice@example.org",
        Subject: "Reset your Demo App password",
        TextBody: sampleMessage().text,
        HtmlBody: "<p>hi</p>",
        MessageStream: "outbound",
        Metadata: { latchkey_outbox_id: "01J0000000000000000000000A" },
        TrackOpens: false,
        TrackLinks: "None",
      },
    }]);
  });

  it("verify() checks the token with GET /server and fails for a wrong token", async () => {
    const fake = startFakePostmark();
    fakes.push(fake);
    expect(await (await postmark(fake.url)).verify?.()).toBeUndefined();
    await expect((await postmark(fake.url, "wrong-token")).verify?.()).rejects.toThrow("HTTP 401");
    expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual(["GET /server", "GET /server"]);
  });

  it("an inactive recipient (422, ErrorCode 406) is final; a wrong token, 429 or 500 is retried", async () => {
    const fake = startFakePostmark([
      { status: 422, body: { ErrorCode: 406, Message: "You tried to send to a recipient that has been marked as inactive." } },
      { status: 429, body: { ErrorCode: 0, Message: "rate limited" } },
      { status: 500, body: { ErrorCode: 0, Message: "oops" } },
    ]);
    fakes.push(fake);
    const provider = await postmark(fake.url);
    const outcome = (p: Promise<void>): Promise<string> => p.then(() => "delivered", (e: unknown) => (isPermanentMailError(e) ? "final" : "retry"));
    expect(await outcome(provider.send(sampleMessage()))).toBe("final");
    expect(await outcome(provider.send(sampleMessage()))).toBe("retry");
    expect(await outcome(provider.send(sampleMessage()))).toBe("retry");
    expect(await outcome(provider.send(sampleMessage()))).toBe("delivered");
    expect(await outcome((await postmark(fake.url, "wrong-token")).send(sampleMessage()))).toBe("retry");
  });
});

describe("examples/plugins/hasher-pbkdf2.ts", () => {
  it("verifies a hash computed by another implementation and rehashes only toward more iterations", async () => {
    const [factory] = (await importPluginFile(join(ROOT, "examples/plugins/hasher-pbkdf2.ts"))) as PasswordHasherFactory[];
    const hasher = factory.create(parse(factory.optionsSchema, { iterations: 1000 }), createTestPluginContext());
    // hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", bytes(range(16)), 1000, 32)
    const vector = "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4";
    expect(hasher.canVerify(vector)).toBe(true);
    expect(await hasher.verify("correct horse battery staple", vector)).toBe(true);
    expect(await hasher.verify("correct horse battery stapler", vector)).toBe(false);
    expect(hasher.needsRehash?.(vector)).toBe(false);
    const stronger = factory.create(parse(factory.optionsSchema, {}), createTestPluginContext());
    expect(stronger.needsRehash?.(vector)).toBe(true);
    const weaker = factory.create(parse(factory.optionsSchema, { iterations: 1000 }), createTestPluginContext());
    expect(weaker.needsRehash?.(await stronger.hash("correct horse battery staple"))).toBe(false);
    expect(parse(factory.optionsSchema, {})).toEqual({ iterations: 600_000 });
  });
});
