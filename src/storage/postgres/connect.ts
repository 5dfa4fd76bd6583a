/** A pool of connections to the PostgreSQL database of `--database`, through Bun's built-in SQL client. */
import { SQL } from "bun";
import type { DatabaseChoice } from "./url.ts";

/**
 * Bun reads `sslmode` and the pool size (`max`) from the URL itself (both were checked by
 * parseDatabaseUrl). Connections are opened on first use.
 */
export function connectPostgres(choice: Extract<DatabaseChoice, { engine: "postgres" }>, options: { connectionTimeoutS?: number } = {}): SQL {
  return new SQL(choice.url, {
    connectionTimeout: options.connectionTimeoutS ?? 10,
    idleTimeout: 60,
    connection: { application_name: "latchkey" },
  });
}
