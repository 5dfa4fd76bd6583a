/**
 * Durations in project files: `30s`, `15m`, `1h`, `30d`, or a whole number of seconds
 * (a YAML number or a numeric string). Anything else is refused rather than guessed at:
 * `15 minutes` or `1.5h` in a token TTL is a typo, not a wish.
 */

export type DurationResult = { ok: true; seconds: number } | { ok: false; reason: string };

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
export const DURATION_PATTERN = /^(0|[1-9][0-9]{0,9})([smhd])?$/;

/** Upper bound on any duration: ten years is far past any sane TTL or window, and keeps date maths exact. */
export const MAX_DURATION_SECONDS = 3650 * 86_400;

const DURATION_HINT = "use 30s, 15m, 1h, 30d or a whole number of seconds";

/** Parses a duration into seconds. Never echoes the input (it may come from the environment). */
export function parseDurationSeconds(raw: unknown): DurationResult {
  let seconds: number;
  if (typeof raw === "number") {
    if (!Number.isSafeInteger(raw) || raw < 0) return { ok: false, reason: `invalid duration: ${DURATION_HINT}` };
    seconds = raw;
  } else if (typeof raw === "string") {
    const match = DURATION_PATTERN.exec(raw);
    if (match === null) return { ok: false, reason: `invalid duration: ${DURATION_HINT}` };
    seconds = Number(match[1]) * UNIT_SECONDS[match[2] ?? "s"];
  } else {
    return { ok: false, reason: `invalid duration: expected a string or a number (${DURATION_HINT})` };
  }
  if (seconds > MAX_DURATION_SECONDS) return { ok: false, reason: "duration too long: at most 3650d" };
  return { ok: true, seconds };
}
