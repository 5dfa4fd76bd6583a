/** `--database` values: what is accepted, what is refused, and that the password never shows. */
import { describe, expect, it } from "bun:test";
import { parseArgs } from "../../src/cli/args.ts";
import { DatabaseUrlError, parseDatabaseUrl } from "../../src/storage/postgres/url.ts";

describe("parseDatabaseUrl", () => {
  it("defaults to SQLite when unset or empty", () => {
    expect(parseDatabaseUrl(undefined)).toEqual({ engine: "sqlite" });
    expect(parseDatabaseUrl("  ")).toEqual({ engine: "sqlite" });
  });

  it("accepts postgres:// and postgresql:// with sslmode and max, hiding the password in display", () => {
    const url = "postgresql://app:pa55word@db.internal:6543/auth?sslmode=verify-full&max=20";
    expect(parseDatabaseUrl(url)).toEqual({ engine: "postgres", url, display: "postgresql://app:***@db.internal:6543/auth?sslmode=verify-full&max=20" });
    expect(parseDatabaseUrl("postgres://app@localhost/auth")).toMatchObject({ engine: "postgres", display: "postgres://app@localhost/auth" });
  });

  it("refuses what cannot be a PostgreSQL database URL, never echoing the password", () => {
    const refused = (value: string): string => {
      try {
        parseDatabaseUrl(value);
      } catch (e) {
        expect(e).toBeInstanceOf(DatabaseUrlError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${value}`);
    };
    expect(refused("localhost:5432")).toContain('unsupported scheme "localhost"');
    expect(refused("::nonsense")).toContain("is not a URL");
    expect(refused("mysql://u:secretpw@h/db")).toContain('unsupported scheme "mysql"');
    expect(refused("postgres://u:secretpw@h")).toContain("must name one database");
    expect(refused("postgres://u:secretpw@h/a/b")).toContain("must name one database");
    expect(refused("postgres://u:secretpw@h/db?max=1001")).toContain("from 1 to 1000");
    expect(refused("postgres://u:secretpw@h/db?max=2.5")).toContain("from 1 to 1000");
    expect(refused("postgres://u:secretpw@h/db?sslmode=on")).toContain("sslmode must be one of");
    for (const v of ["postgres://u:secretpw@h", "postgres://u:secretpw@h/db?max=0", "postgres://u:secretpw@h/db?sslmode=on"]) {
      expect(refused(v)).not.toContain("secretpw");
    }
  });

  it("--database beats LATCHKEY_DATABASE_URL for check, schema and keys rotate", () => {
    const env = { LATCHKEY_DATABASE_URL: "postgres://env@h/envdb" };
    expect(parseArgs(["check", "--config", "p.yaml"], env)).toMatchObject({ database: { engine: "postgres", url: "postgres://env@h/envdb" } });
    expect(parseArgs(["check", "--config", "p.yaml", "--database", "postgres://flag@h/flagdb"], env)).toMatchObject({ database: { url: "postgres://flag@h/flagdb" } });
    expect(parseArgs(["schema", "--database=postgres://flag@h/x"], {})).toEqual({ kind: "schema", database: expect.objectContaining({ engine: "postgres" }) });
    expect(parseArgs(["keys", "rotate", "--project", "p", "--admin"], env)).toMatchObject({ database: { engine: "postgres" } });
    expect(parseArgs(["keys", "rotate", "--project", "p", "--admin"], {})).toMatchObject({ database: { engine: "sqlite" } });
  });
});
