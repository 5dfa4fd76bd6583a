import { describe, expect, it } from "bun:test";
import { DEFAULT_OUTBOX_SCHEDULE, describeError, retryDelayMs } from "./sender.ts";

describe("retry schedule", () => {
  it("doubles from 5 s and caps at 10 minutes over 10 attempts", () => {
    const delays = Array.from({ length: DEFAULT_OUTBOX_SCHEDULE.maxAttempts - 1 }, (_, i) => retryDelayMs(DEFAULT_OUTBOX_SCHEDULE, i + 1) / 1000);
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 600, 600]);
  });
});

describe("describeError", () => {
  it("scrubs secrets, control characters and length", () => {
    const text = describeError(new Error(`550 no\r\nsuch user; link https://a.io/?token=SECRET`), ["SECRET"]);
    expect(text).toBe("Error: 550 no such user; link https://a.io/?token=[redacted]");
    expect(describeError("x".repeat(1000), []).length).toBe(300);
  });
});
