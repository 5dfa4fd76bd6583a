import type { RateLimitName } from "../config/types.ts";
import type { RateLimitResult, RateLimitsOps } from "../storage/rate-limits.ts";
import type { ProjectConfig } from "../config/types.ts";
import { ApiError } from "./errors.ts";
import { ipRateLimitSubject } from "./ip.ts";

/** What the rate-limit helpers use of a project: its rules and the counters of its store (or of a transaction). */
export interface RateLimited {
  readonly config: ProjectConfig;
  readonly store: { readonly rateLimits: RateLimitsOps };
}

/** `<rule>:<subject>`; every `*_per_ip` rule counts IPv6 clients per /64 (see ipRateLimitSubject). */
export function counterKey(name: RateLimitName, subject: string): string {
  return `${name}:${name.endsWith("_per_ip") ? ipRateLimitSubject(subject) : subject}`;
}

/**
 * Counts one event against the project's rule `name` (SPEC 9.5) and returns the counter state,
 * or null when the rule is `off`. Never throws a refusal: the caller decides what it means.
 * `counters` is the transaction's group when the count must commit with other writes.
 */
export async function hitRateLimit(
  p: RateLimited,
  name: RateLimitName,
  key: string,
  nowMs: number,
  counters: RateLimitsOps = p.store.rateLimits,
): Promise<RateLimitResult | null> {
  const rule = p.config.auth.rateLimits[name];
  return rule ? counters.hit(counterKey(name, key), rule, nowMs) : null;
}

/** Reads the counter of rule `name` without counting; null when the rule is `off`. */
export async function peekRateLimit(p: RateLimited, name: RateLimitName, key: string, nowMs: number): Promise<RateLimitResult | null> {
  const rule = p.config.auth.rateLimits[name];
  return rule ? p.store.rateLimits.peek(counterKey(name, key), rule, nowMs) : null;
}

/** Takes back one event counted by hitRateLimit (e.g. a login that turned out to be correct). */
export async function undoRateLimit(p: RateLimited, name: RateLimitName, key: string): Promise<void> {
  if (p.config.auth.rateLimits[name]) await p.store.rateLimits.undo(counterKey(name, key));
}

/** Counts one event and throws 429 RATE_LIMITED with Retry-After when it is over the limit. */
export async function enforceRateLimit(
  p: RateLimited,
  name: RateLimitName,
  key: string,
  nowMs: number,
  counters: RateLimitsOps = p.store.rateLimits,
): Promise<RateLimitResult | null> {
  const r = await hitRateLimit(p, name, key, nowMs, counters);
  if (r && !r.allowed) throw rateLimitedError(r);
  return r;
}

export function rateLimitedError(r: RateLimitResult): ApiError {
  return new ApiError("RATE_LIMITED", { retryAfterSeconds: r.retryAfterSeconds });
}

/** One per-request limit of a route (see src/modules/route-table.ts): the rule and whom it counts. */
export interface RouteLimit {
  readonly rule: RateLimitName;
  /** The counter's subject: the client IP, or the signed-in user's id. */
  readonly per: "ip" | "user";
  /** Set when the limit applies to one way of calling the route only (the handler names it). */
  readonly only?: string;
}

/** Who a request is, for its route's limits. `way` selects the limits marked `only` for it. */
export interface RouteLimitSubject {
  readonly ip: string;
  readonly userId?: string;
  readonly way?: string;
}

/**
 * Applies a route's limits from the route table: called by the handler after the request parsed
 * (a malformed request is 400 and counts toward no limit, SPEC 5) and before the service runs.
 * Counts each rule in the table's order and throws 429 RATE_LIMITED at the first one over.
 */
export async function applyRouteLimits(p: RateLimited & { readonly deps: { now(): number } }, limits: readonly RouteLimit[], subject: RouteLimitSubject): Promise<void> {
  const nowMs = p.deps.now();
  for (const limit of limits) {
    if (limit.only !== undefined && limit.only !== subject.way) continue;
    const key = limit.per === "ip" ? subject.ip : subject.userId;
    if (key === undefined) throw new Error(`route limit ${limit.rule} counts per ${limit.per}, and the handler gave none`);
    await enforceRateLimit(p, limit.rule, key, nowMs);
  }
}
