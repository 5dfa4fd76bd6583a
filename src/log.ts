/** One JSON object per line, UTC timestamps (SPEC §9.6). Never pass secrets in fields. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A security event (signup, login_failed, lockout, ...): written at every `--log-level` (SPEC 9.6). */
  event(event: string, fields?: Record<string, unknown>): void;
  /** A line that scripts wait for (`listening on ...`, SPEC 1): written at every `--log-level`, as info. */
  announce(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Sees every entry, whatever the level (the metrics count security events this way). */
export type LogObserver = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void;

export function createLogger(opts: {
  level: LogLevel;
  write?: (line: string) => void;
  fields?: Record<string, unknown>;
  observe?: LogObserver;
}): Logger {
  const write = opts.write ?? ((line: string) => process.stdout.write(line + "\n"));
  const base = opts.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }));
  };
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    opts.observe?.(level, msg, { ...base, ...fields });
    if (RANK[level] >= RANK[opts.level]) emit(level, msg, fields);
  };
  return {
    log,
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    // Security events are an audit trail, not chatter: `--log-level warn` must not drop them.
    event: (e, f) => {
      opts.observe?.("info", e, { ...base, event: e, ...f });
      emit("info", e, { event: e, ...f });
    },
    announce: (m, f) => emit("info", m, f),
    child: (fields) => createLogger({ level: opts.level, write, observe: opts.observe, fields: { ...base, ...fields } }),
  };
}

/** A logger that keeps lines in memory (tests). */
export function createMemoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level, write: (l) => lines.push(l) }), { lines });
}
