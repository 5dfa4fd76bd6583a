import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestInstance, type TestInstance } from "../helpers/instance.ts";
import { PASSWORD, deliveredTo, demoProject, outboxRows } from "./fixtures.ts";

let inst: TestInstance | undefined;
let dir: string | undefined;
afterEach(async () => {
  await inst?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  inst = undefined;
  dir = undefined;
});

const SCRIPT = "<script>alert('x')</script> & \"friends\"";

function templateFiles(files: Record<string, string>): Record<string, string> {
  dir = mkdtempSync(join(tmpdir(), "latchkey-templates-"));
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = join(dir, name);
    writeFileSync(paths[name], content);
  }
  return paths;
}

describe("per-project templates", () => {
  it("escapes user values in the HTML body, keeps them verbatim in the text body, and renders subject variables", async () => {
    const files = templateFiles({
      "verify.txt": "Hi {{user.display_name}}, confirm {{email}} for {{project_name}}: {{link}} ({{expires_in}}) {{app_url}}",
      "verify.html": '<p>Hi {{ user.display_name }}</p><a href="{{link}}">Confirm {{email}}</a><p>{{project_name}}</p>',
    });
    inst = await createTestInstance([
      demoProject({
        name: "Demo & Co",
        mail: {
          provider: "capture",
          from: "Demo <no-reply@myapp.com>",
          templates: {
            verify_email: { subject: "Welcome to {{project_name}} ({{expires_in}})", text: files["verify.txt"], html: files["verify.html"] },
          },
        },
      }),
    ]);
    const r = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD, display_name: SCRIPT } });
    expect(r.status).toBe(201);
    await inst.outbox.deliver("demo");
    const [mail] = inst.mail.messages;
    expect(mail.subject).toBe("Welcome to Demo & Co (1 day)");
    expect(mail.subject).not.toContain(SCRIPT);
    expect(mail.text).toContain(`Hi ${SCRIPT}, confirm alice@example.org for Demo & Co: http://127.0.0.1:8080/p/demo/auth/verify?token=`);
    expect(mail.text).toContain("(1 day) https://myapp.com");
    expect(mail.html).toContain("<p>Hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;friends&quot;</p>");
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).toContain("<p>Demo &amp; Co</p>");
    expect(mail.html).toMatch(/<a href="http:\/\/127\.0\.0\.1:8080\/p\/demo\/auth\/verify\?token=[A-Za-z0-9_-]{43}">/);
  });

  it("captures user.<column> values at enqueue and only the columns the template uses", async () => {
    const files = templateFiles({ "changed.txt": "Hi {{user.display_name}}, your password changed." });
    inst = await createTestInstance([
      demoProject({
        mail: { provider: "capture", templates: { password_changed: { text: files["changed.txt"] } } },
      }),
    ]);
    const s = await inst.req("POST", "/p/demo/auth/signup", { body: { email: "alice@example.org", password: PASSWORD, display_name: "Alice" } });
    await inst.req("POST", "/p/demo/auth/change-password", { token: s.body.data.token, body: { current_password: PASSWORD, new_password: "another fine passphrase" } });
    const [row] = outboxRows(inst, "password_changed");
    expect(JSON.parse(row.payload!).vars["user.display_name"]).toBe("Alice");
    expect(JSON.parse(outboxRows(inst, "verify_email")[0].payload!).vars["user.display_name"]).toBeUndefined();
    const [mail] = await deliveredTo(inst, "alice@example.org", "changed");
    expect(mail.text).toBe("Hi Alice, your password changed.");
    // The built-in HTML part is kept when only the text part is overridden.
    expect(mail.html).toContain("was just changed");
    // Without mail.from, the sender is the project name at a no-reply address.
    expect(mail.from).toBe("Demo App <no-reply@localhost>");
  });

  it("refuses an unknown variable or a missing file at load", async () => {
    const files = templateFiles({ "bad.txt": "Hello {{user.nope}} {{token}}" });
    const load = (templates: Record<string, unknown>) =>
      createTestInstance([demoProject({ mail: { provider: "capture", templates } })]);
    await expect(load({ reset_password: { text: files["bad.txt"] } })).rejects.toThrow(/unknown template variable \{\{user\.nope\}\}/);
    await expect(load({ reset_password: { text: join(dir!, "missing.txt") } })).rejects.toThrow(/not found/);
  });
});
