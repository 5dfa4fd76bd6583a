import { describe, expect, it } from "bun:test";
import { BUILTIN_TEMPLATES, escapeHtml, formatDuration, renderTemplate, userColumnsUsed } from "./templates.ts";

describe("renderTemplate", () => {
  const vars = { project_name: "Demo", email: "a@b.io", link: "https://x.io/?a=1&token=T", "user.name": "<i>Al</i>", expires_in: "1 hour", app_url: "https://x.io" };

  it("escapes values in HTML only, and not the template itself", () => {
    const out = renderTemplate({ subject: "s", text: "{{user.name}} {{link}}", html: "<b>{{user.name}}</b><a href=\"{{link}}\">" }, vars);
    expect(out.text).toBe("<i>Al</i> https://x.io/?a=1&token=T");
    expect(out.html).toBe('<b>&lt;i&gt;Al&lt;/i&gt;</b><a href="https://x.io/?a=1&amp;token=T">');
  });

  it("escapes quotes, so a value is safe inside a double- or single-quoted attribute", () => {
    const hostile = { ...vars, "user.name": `x" onmouseover="alert(1)' onclick='alert(2)` };
    const out = renderTemplate({ subject: "s", text: "", html: `<a title="{{user.name}}" data-x='{{user.name}}'>{{user.name}}</a>` }, hostile);
    expect(out.html).toBe(
      `<a title="x&quot; onmouseover=&quot;alert(1)&#39; onclick=&#39;alert(2)" data-x='x&quot; onmouseover=&quot;alert(1)&#39; onclick=&#39;alert(2)'>` +
        `x&quot; onmouseover=&quot;alert(1)&#39; onclick=&#39;alert(2)</a>`,
    );
  });

  it("puts only project_name, expires_in and app_url into a subject", () => {
    const out = renderTemplate({ subject: "{{project_name}}: {{email}} {{user.name}} {{link}} ({{expires_in}}, {{ app_url }})", text: "" }, vars);
    expect(out.subject).toBe("Demo: (1 hour, https://x.io)");
  });

  it("renders a missing variable as empty text", () => {
    expect(renderTemplate({ subject: "", text: "[{{user.other}}]" }, vars).text).toBe("[]");
  });

  it("has text and HTML for every built-in template, using only the variables of SPEC 8", () => {
    for (const t of Object.values(BUILTIN_TEMPLATES)) {
      expect(t.text.length).toBeGreaterThan(0);
      expect(t.html?.length).toBeGreaterThan(0);
      expect(userColumnsUsed(t)).toEqual([]);
      for (const m of `${t.subject}${t.text}${t.html}`.matchAll(/\{\{\s*([^}]+?)\s*\}\}/g)) {
        expect(["project_name", "link", "email", "expires_in", "app_url"]).toContain(m[1]);
      }
    }
    expect(BUILTIN_TEMPLATES.reset_password.text).toContain("{{link}}");
    expect(BUILTIN_TEMPLATES.verify_email.html).toContain('href="{{link}}"');
  });
});

describe("helpers", () => {
  it("escapes the five HTML-significant characters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  });

  it("formats TTLs the way a message reads them", () => {
    expect(formatDuration(3600)).toBe("1 hour");
    expect(formatDuration(86_400)).toBe("1 day");
    expect(formatDuration(7200)).toBe("2 hours");
    expect(formatDuration(900)).toBe("15 minutes");
    expect(formatDuration(45)).toBe("45 seconds");
    expect(formatDuration(5400)).toBe("90 minutes");
  });
});
