/**
 * Async send with retries in the failure path, and a hand-off instead of a drop.
 *
 *   attempt 1 ── producer.sendAsync ──(fail)── wait backoff(1) ── attempt 2 ── ... ── attempt maxAttempts
 *                                                                                     │ (fail)
 *                                                                     fallback.handOff(msg)  (e.g. the outbox)
 *
 * - Each attempt is one `producer.sendAsync`, which itself makes up to 1 + `retryTimesWhenSendAsyncFailed`
 *   quick tries on other queues. A broker that failed at the network level is isolated by the Producer
 *   for `brokerIsolationMs`, so the next attempt goes to another broker when the topic has one.
 * - Orderly sends (`shardingKey`) keep their queue on every attempt (hash selector): order beats spreading.
 * - The msgId (UNIQ_KEY) is fixed before attempt 1 so all attempts and a later outbox resend share it.
 * - Permanent errors (bad argument, too large, payload conversion) fail at once: retrying cannot help,
 *   and an outbox row would only fail again. A stopped producer (NOT_RUNNING) skips to the hand-off.
 * - After the last attempt the message goes to `fallback` (e.g. `outbox.handOff`, which enqueues it in
 *   its own DB transaction). The caller still gets a rejection (`AsyncSendFailedError` with
 *   `handedOff: true`), because the message was not sent yet — but it is no longer lost.
 */
import type { Logger } from '../client/client-options';
import type { Message } from '../client/message';
import { MQClientError, type MQClientErrorCode } from '../client/errors';
import { selectMessageQueueByHash, type Producer, type SendOptions, type SendResult } from '../client/producer/producer';
import { backoffDelayMs, resolveBackoff, type BackoffOptions, type ResolvedBackoff } from './backoff';
import { uniqKeyOf, withUniqKey } from './message-identity';
import { TypedEvents } from './typed-events';

/** What the retry hands a message to after its last attempt (the outbox implements it). */
export interface AsyncSendFallback {
  /** Takes the message over (e.g. writes an outbox row in its own transaction). Resolves with an id for logs. */
  handOff(msg: Message, context: HandOffContext): Promise<string | number | undefined>;
}

export interface HandOffContext {
  /** The last attempt's error. */
  error: Error;
  attempts: number;
  /** Set for orderly sends: the relay sends with the same hash key. */
  shardingKey?: string;
}

export interface AsyncSendRetryOptions {
  /** Attempts in total (1 = no retry beyond the Producer's own). @defaultValue 3 */
  maxAttempts?: number;
  /** Wait between attempts. @defaultValue initialMs 200, multiplier 2, maxMs 5000, jitter 0.2 */
  backoff?: BackoffOptions;
  /** Where the message goes after the last attempt; absent → it is dropped (the promise rejects). */
  fallback?: AsyncSendFallback | ((msg: Message, context: HandOffContext) => Promise<string | number | undefined>);
  /** Overrides which errors are retried (default: all but permanent ones, see `isPermanentSendError`). */
  retryIf?: (error: Error) => boolean;
  /** Random source for the jitter (tests). */
  random?: () => number;
  /** Where throwing listeners and callbacks are reported. @defaultValue none (ignored) */
  logger?: Logger;
}

export const ASYNC_SEND_RETRY_DEFAULTS = {
  maxAttempts: 3,
  backoff: { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0.2 } satisfies ResolvedBackoff,
} as const;

export interface AsyncAttemptFailedEvent {
  topic: string;
  msgId: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  maxAttempts: number;
  error: Error;
  /** Wait before the next attempt; undefined when this was the last one (or the error is permanent). */
  nextDelayMs: number | undefined;
}

export interface AsyncSucceededEvent {
  topic: string;
  msgId: string;
  attempts: number;
  result: SendResult;
}

export interface AsyncHandOffEvent {
  topic: string;
  msgId: string;
  attempts: number;
  error: Error;
  /** What the fallback returned (e.g. the outbox row id). */
  handOffId: string | number | undefined;
}

export interface AsyncHandOffFailedEvent {
  topic: string;
  msgId: string;
  attempts: number;
  error: Error;
  handOffError: Error;
}

export interface AsyncDroppedEvent {
  topic: string;
  msgId: string;
  attempts: number;
  error: Error;
  /** 'permanent' error, or 'no-fallback' configured. */
  reason: 'permanent' | 'no-fallback';
}

export interface AsyncSendRetryEventMap {
  'attempt.failed': AsyncAttemptFailedEvent;
  succeeded: AsyncSucceededEvent;
  handoff: AsyncHandOffEvent;
  'handoff.failed': AsyncHandOffFailedEvent;
  dropped: AsyncDroppedEvent;
}

/** Counters since creation (monotonic). */
export interface AsyncSendRetryStats {
  /** Calls to send(). */
  sends: number;
  /** producer.sendAsync calls made (first attempts + retries). */
  attempts: number;
  retries: number;
  succeeded: number;
  succeededAfterRetry: number;
  handedOff: number;
  handOffFailed: number;
  dropped: number;
  /** Sends waiting for their next attempt right now. */
  waiting: number;
}

/** The async send gave up. `handedOff` says whether the fallback (outbox) took the message. */
export class AsyncSendFailedError extends MQClientError {
  constructor(
    readonly msgId: string,
    readonly attempts: number,
    readonly handedOff: boolean,
    readonly handOffId: string | number | undefined,
    lastError: Error,
    readonly handOffError?: Error,
  ) {
    super(
      lastError instanceof MQClientError ? lastError.code : ('SEND_TIMEOUT' satisfies MQClientErrorCode),
      `async send of ${msgId} failed after ${attempts} attempt(s): ${lastError.message}` +
        (handedOff ? ` (handed off${handOffId !== undefined ? ` as ${String(handOffId)}` : ''})` : handOffError ? ` (hand-off failed: ${handOffError.message})` : ''),
      { cause: lastError, retriable: false },
    );
    this.name = 'AsyncSendFailedError';
  }
}

const PERMANENT_CODES: ReadonlySet<string> = new Set<MQClientErrorCode>(['ILLEGAL_ARGUMENT', 'MESSAGE_TOO_LARGE']);

/** Errors no retry or resend can fix: invalid messages and non-client errors (bugs, conversion). */
export function isPermanentSendError(error: Error): boolean {
  if (error instanceof MQClientError) return PERMANENT_CODES.has(error.code);
  return true;
}

export interface RetrySendOptions extends SendOptions {
  /** Orderly send: hash key of the queue (the default selector is the hash one); kept for the hand-off. */
  shardingKey?: string;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Wraps a Producer: async sends retried with backoff, then handed to a fallback (see file comment). */
export class AsyncSendRetrier {
  readonly events: TypedEvents<AsyncSendRetryEventMap>;
  readonly maxAttempts: number;
  private readonly backoff: ResolvedBackoff;
  private fallback: AsyncSendFallback | undefined;
  private readonly retryIf: (error: Error) => boolean;
  private readonly random: () => number;
  private readonly counters = { sends: 0, attempts: 0, retries: 0, succeeded: 0, succeededAfterRetry: 0, handedOff: 0, handOffFailed: 0, dropped: 0 };
  /** Sends sleeping before their next attempt; `flush()` wakes them for the last attempt + hand-off. */
  private readonly waiting = new Set<() => void>();
  private closing = false;
  private readonly logger: Logger | undefined;

  constructor(
    readonly producer: Producer,
    options: AsyncSendRetryOptions = {},
  ) {
    const maxAttempts = options.maxAttempts ?? ASYNC_SEND_RETRY_DEFAULTS.maxAttempts;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${String(options.maxAttempts)}`);
    this.maxAttempts = maxAttempts;
    this.backoff = resolveBackoff(options.backoff, ASYNC_SEND_RETRY_DEFAULTS.backoff);
    this.setFallback(options.fallback);
    this.retryIf = options.retryIf ?? ((e) => !isPermanentSendError(e));
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.events = new TypedEvents((err, name) => this.logWarn(err, `${String(name)} listener`));
  }

  setFallback(fallback: AsyncSendRetryOptions['fallback']): void {
    this.fallback = typeof fallback === 'function' ? { handOff: fallback } : fallback;
  }

  stats(): AsyncSendRetryStats {
    return { ...this.counters, waiting: this.waiting.size };
  }

  /** Sends `msg`; resolves with the broker's answer or rejects with `AsyncSendFailedError`. */
  async send(msg: Message, options: RetrySendOptions = {}): Promise<SendResult> {
    this.counters.sends++;
    const prepared = withUniqKey(msg);
    const msgId = uniqKeyOf(prepared)!;
    const { shardingKey, ...rest } = options;
    const sendOptions: SendOptions = shardingKey !== undefined && rest.selector === undefined && rest.messageQueue === undefined ? { ...rest, selector: selectMessageQueueByHash, arg: shardingKey } : rest;
    let lastError: Error | undefined;
    let attempt = 0;
    while (attempt < this.maxAttempts) {
      attempt++;
      this.counters.attempts++;
      if (attempt > 1) this.counters.retries++;
      try {
        const result = await this.producer.sendAsync(prepared, sendOptions);
        this.counters.succeeded++;
        if (attempt > 1) this.counters.succeededAfterRetry++;
        if (this.events.has('succeeded')) this.events.emit('succeeded', { topic: msg.topic, msgId, attempts: attempt, result });
        return result;
      } catch (err) {
        lastError = toError(err);
      }
      const notRunning = lastError instanceof MQClientError && lastError.code === 'NOT_RUNNING';
      const retry = !notRunning && !this.closing && attempt < this.maxAttempts && this.retryIf(lastError);
      const nextDelayMs = retry ? backoffDelayMs(attempt, this.backoff, this.random) : undefined;
      if (this.events.has('attempt.failed')) {
        this.events.emit('attempt.failed', { topic: msg.topic, msgId, attempt, maxAttempts: this.maxAttempts, error: lastError, nextDelayMs });
      }
      if (nextDelayMs === undefined) break;
      await this.sleep(nextDelayMs);
    }
    const error = lastError ?? new MQClientError('SEND_TIMEOUT', `async send of ${msgId} failed`);
    if (isPermanentSendError(error) || !this.fallback) {
      this.counters.dropped++;
      if (this.events.has('dropped')) this.events.emit('dropped', { topic: msg.topic, msgId, attempts: attempt, error, reason: isPermanentSendError(error) ? 'permanent' : 'no-fallback' });
      throw new AsyncSendFailedError(msgId, attempt, false, undefined, error);
    }
    try {
      const context: HandOffContext = { error, attempts: attempt };
      if (shardingKey !== undefined) context.shardingKey = shardingKey;
      const handOffId = await this.fallback.handOff(prepared, context);
      this.counters.handedOff++;
      if (this.events.has('handoff')) this.events.emit('handoff', { topic: msg.topic, msgId, attempts: attempt, error, handOffId });
      throw new AsyncSendFailedError(msgId, attempt, true, handOffId, error);
    } catch (err) {
      if (err instanceof AsyncSendFailedError) throw err;
      const handOffError = toError(err);
      this.counters.handOffFailed++;
      if (this.events.has('handoff.failed')) this.events.emit('handoff.failed', { topic: msg.topic, msgId, attempts: attempt, error, handOffError });
      throw new AsyncSendFailedError(msgId, attempt, false, undefined, error, handOffError);
    }
  }

  /** rocketmq-spring style callback form of `send`. */
  sendWithCallback(msg: Message, callback: { onSuccess: (r: SendResult) => void; onException?: (e: Error) => void }, options: RetrySendOptions = {}): void {
    this.send(msg, options).then(
      (r) => {
        try {
          callback.onSuccess(r);
        } catch (err) {
          this.logWarn(err, 'onSuccess');
        }
      },
      (err: unknown) => {
        try {
          callback.onException?.(toError(err));
        } catch (cbErr) {
          this.logWarn(cbErr, 'onException');
        }
      },
    );
  }

  /**
   * For shutdown: sends sleeping between attempts stop waiting, make one last attempt now and, if
   * it fails, go to their hand-off (no further retries). Returns at once; the sends settle on their own.
   */
  flush(): void {
    this.closing = true;
    for (const wake of [...this.waiting]) wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }

  private logWarn(err: unknown, where: string): void {
    this.logger?.warn({ err }, `async send retry: ${where} threw`);
  }
}

/** One-off helper: `new AsyncSendRetrier(producer, options).send(msg, sendOptions)`. */
export function sendAsyncWithRetry(producer: Producer, msg: Message, options: AsyncSendRetryOptions & RetrySendOptions = {}): Promise<SendResult> {
  const { maxAttempts, backoff, fallback, retryIf, random, logger, ...sendOptions } = options;
  const retryOptions: AsyncSendRetryOptions = {};
  if (maxAttempts !== undefined) retryOptions.maxAttempts = maxAttempts;
  if (backoff !== undefined) retryOptions.backoff = backoff;
  if (fallback !== undefined) retryOptions.fallback = fallback;
  if (retryIf !== undefined) retryOptions.retryIf = retryIf;
  if (random !== undefined) retryOptions.random = random;
  if (logger !== undefined) retryOptions.logger = logger;
  return new AsyncSendRetrier(producer, retryOptions).send(msg, sendOptions);
}
