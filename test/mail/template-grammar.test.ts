/**
 * One template grammar (SPEC 8): what the config loader accepts is exactly what the mailer
 * renders. These tests fail as soon as the loader's check and the renderer read `{{...}}`
 * differently (a variable form one accepts and the other does not fill, a name one trims and the
 * other does not, a hidden column the renderer would look up, ...).
 */
import { describe, expect, it } from "bun:test";
import { checkSubjectVariables, checkVariables, type TemplateUserColumns } from "../../src/config/templates.ts";
import { TEMPLATE_VARIABLES } from "../../src/config/types.ts";
import type { PathIssue } from "../../src/config/issues.ts";
import { renderTemplate, userColumnsUsed } from "../../src/mail/templates.ts";

const COLUMNS: TemplateUserColumns = { visible: ["display_name"], hidden: ["secret"] };
const BODY_NAMES = [...TEMPLATE_VARIABLES, "user.display_name"];
const SUBJECT_NAMES = ["project_name", "expires_in", "app_url"];

const marker = (name: string): string => `«${name}»`;

function bodyIssues(template: string): PathIssue[] {
  const issues: PathIssue[] = [];
  checkVariables(template, COLUMNS, "t", issues);
  return issues;
}

function subjectIssues(subject: string): PathIssue[] {
  const issues: PathIssue[] = [];
  checkSubjectVariables(subject, "s", issues);
  return issues;
}

/** Renders with a distinct value per name, recording every name the renderer looks up. */
function renderRecording(part: "text" | "subject", template: string): { out: string; lookedUp: string[] } {
  const lookedUp: string[] = [];
  const values: Record<string, string> = {};
  for (const name of [...BODY_NAMES, "user.secret"]) values[name] = marker(name);
  const vars = new Proxy(values, {
    get(target, key) {
      if (typeof key === "string") lookedUp.push(key);
      return Reflect.get(target, key);
    },
  });
  const rendered = renderTemplate(part === "text" ? { subject: "", text: template } : { subject: template, text: "" }, vars);
  return { out: part === "text" ? rendered.text : rendered.subject, lookedUp };
}

describe("one template grammar for the loader and the renderer", () => {
  // Hand-checked cases: the template, whether the loader accepts it, and what the text renders to.
  const cases: [template: string, accepted: boolean, rendered: string][] = [
    ["Hi {{email}}", true, "Hi «email»"],
    ["Hi {{ email }}", true, "Hi «email»"],
    ["Hi {{\temail\n}}", true, "Hi «email»"],
    ["Hi {{\u00a0user.display_name\u00a0}}", true, "Hi «user.display_name»"],
    ["{{{link}}}", true, "{«link»}"],
    ["{{link}}{{link}}", true, "«link»«link»"],
    ["a { b } c }}", true, "a { b } c }}"],
    ["Hi {{user.secret}}", false, ""],
    ["Hi {{user.nope}}", false, ""],
    ["Hi {{token}}", false, ""],
    ["Hi {{}}", false, ""],
    ["Hi {{ user. }}", false, ""],
    ["Hi {{user.display-name}}", false, ""],
    ["Hi {{email}", false, ""],
    ["Hi {{{{email}}}}", false, ""],
  ];
  for (const [template, accepted, rendered] of cases) {
    it(`${accepted ? "accepts and renders" : "refuses"} ${JSON.stringify(template)}`, () => {
      expect(bodyIssues(template).length === 0).toBe(accepted);
      if (accepted) expect(renderRecording("text", template).out).toBe(rendered);
    });
  }

  it("fills every tag of every accepted body, looking up only names the loader accepted", () => {
    const spaces = ["", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\ufeff"];
    const names = [...BODY_NAMES, "user.secret", "user.missing", "nope", "user.", "", "a.b.c", "user.display-name", "Project_Name", "user.display_name.x"];
    const shapes = ["{{%}}", "<{{%}}>", "{{{%}}}", "{{%}", "{%}}", "{{%}}}", "x {{%}} {{%}} y"];
    let accepted = 0;
    for (const before of spaces) {
      for (const after of spaces) {
        for (const name of names) {
          for (const shape of shapes) {
            const template = shape.replaceAll("%", `${before}${name}${after}`);
            if (bodyIssues(template).length > 0) continue;
            accepted++;
            const { out, lookedUp } = renderRecording("text", template);
            expect({ template, leftover: out.includes("{{") }).toEqual({ template, leftover: false });
            // `{%}}` holds no tag at all: literal text, accepted and left alone.
            const hasTag = shape.includes("{{%}}");
            expect({ template, filled: out.includes(marker(name)) }).toEqual({ template, filled: hasTag });
            for (const n of lookedUp) expect(BODY_NAMES).toContain(n);
            expect(userColumnsUsed({ subject: "", text: template })).toEqual(hasTag && name.startsWith("user.") ? [name.slice(5)] : []);
          }
        }
      }
    }
    // The corpus really exercises the accepted forms: every body name under most spacings and shapes.
    expect(accepted).toBeGreaterThan(BODY_NAMES.length * spaces.length * spaces.length * 3);
  });

  it("fills every variable of an accepted subject, and refuses what the subject would drop", () => {
    for (const name of [...BODY_NAMES, "user.secret", "nope"]) {
      for (const template of [`Re: {{${name}}}`, `Re: {{ ${name} }}`, `{{\t${name}}}!`]) {
        const ok = subjectIssues(template).length === 0;
        expect({ template, ok }).toEqual({ template, ok: SUBJECT_NAMES.includes(name) });
        const { out, lookedUp } = renderRecording("subject", template);
        if (ok) expect(out).toContain(marker(name));
        // Whatever the loader would refuse, the renderer never puts into the header either.
        else expect(out).not.toContain(marker(name));
        for (const n of lookedUp) expect(SUBJECT_NAMES).toContain(n);
      }
    }
  });
});
