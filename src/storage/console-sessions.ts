/** Sessions of the admin console (`_console_sessions`): only a token's SHA-256 is stored. */

export interface ConsoleSessionRow {
  /** A mark of the admin key in force at sign-in (a rotated key no longer matches). */
  readonly keyMark: string;
  readonly expiresAtMs: number;
}

export interface ConsoleSessionsOps {
  /** Stores a new session, deleting the expired ones in the same step. */
  start(tokenHash: string, keyMark: string, nowMs: number, expiresAtMs: number): Promise<void>;
  find(tokenHash: string): Promise<ConsoleSessionRow | null>;
  end(tokenHash: string): Promise<void>;
  /** Ends every console session (after an admin key rotation). */
  endAll(): Promise<void>;
}
