/** Exit codes of every command (SPEC §1; printed by `latchkey --help`). */
export const EXIT_OK = 0;
/** A runtime failure: the port, the data directory, a database, a file that cannot be written. */
export const EXIT_RUNTIME = 1;
/** Bad usage or invalid configuration: nothing was started. */
export const EXIT_CONFIG = 2;
