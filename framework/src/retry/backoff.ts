/**
 * Exponential backoff with jitter (KafkaJS `retry/`, AWS "full jitter"): the delay before retry n
 * (n = 1 for the first retry) is `min(maxMs, initialMs * multiplier^(n-1))`, then jittered:
 *
 *   jitter 0    → exactly that delay
 *   jitter 0..1 → uniformly in [delay * (1 - jitter), delay]
 *
 * A little jitter keeps many producers/relays that failed together from retrying together.
 */

export interface BackoffOptions {
  /** Delay before the first retry (ms). @defaultValue 1000 */
  initialMs?: number;
  /** Growth factor per retry. @defaultValue 2 */
  multiplier?: number;
  /** Upper bound of any delay (ms). @defaultValue 300000 (5 min) */
  maxMs?: number;
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). @defaultValue 0.2 */
  jitter?: number;
}

export const BACKOFF_DEFAULTS = {
  initialMs: 1_000,
  multiplier: 2,
  maxMs: 300_000,
  jitter: 0.2,
} as const;

export type ResolvedBackoff = Required<BackoffOptions>;

export function resolveBackoff(options: BackoffOptions = {}, defaults: ResolvedBackoff = BACKOFF_DEFAULTS): ResolvedBackoff {
  const b: ResolvedBackoff = {
    initialMs: options.initialMs ?? defaults.initialMs,
    multiplier: options.multiplier ?? defaults.multiplier,
    maxMs: options.maxMs ?? defaults.maxMs,
    jitter: options.jitter ?? defaults.jitter,
  };
  if (!(b.initialMs >= 0) || !Number.isFinite(b.initialMs)) throw new RangeError(`backoff initialMs must be >= 0, got ${b.initialMs}`);
  if (!(b.multiplier >= 1) || !Number.isFinite(b.multiplier)) throw new RangeError(`backoff multiplier must be >= 1, got ${b.multiplier}`);
  if (!(b.maxMs >= b.initialMs)) throw new RangeError(`backoff maxMs (${b.maxMs}) must be >= initialMs (${b.initialMs})`);
  if (!(b.jitter >= 0 && b.jitter <= 1)) throw new RangeError(`backoff jitter must be in [0, 1], got ${b.jitter}`);
  return b;
}

/** Delay before retry number `retry` (1 = first retry). `random` is a seam for tests. */
export function backoffDelayMs(retry: number, backoff: ResolvedBackoff, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(retry));
  // Cap the exponent so huge retry counts cannot overflow to Infinity before the min().
  const raw = backoff.initialMs * Math.pow(backoff.multiplier, Math.min(n - 1, 64));
  const capped = Math.min(backoff.maxMs, raw);
  const jittered = capped * (1 - backoff.jitter * random());
  return Math.max(0, Math.round(jittered));
}
