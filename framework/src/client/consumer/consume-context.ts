/** The listener contract of the push consumer. */
import type { MessageQueue } from '@rocketry/broker/protocol';
import type { MessageExt } from '../message';
import type { ConsumeStatus } from './consumer-types';

export interface ConsumeContext {
  readonly messageQueue: MessageQueue;
  readonly orderly: boolean;
  /**
   * Concurrent mode, on failure (rocketmq-spring `delayLevelWhenNextConsume`): -1 sends the message
   * straight to `%DLQ%<group>`, 0 lets the broker choose the retry delay (3 + reconsumeTimes), > 0 is
   * the delay level. Starts at the consumer option; a handler may change it before throwing.
   */
  delayLevelWhenNextConsume: number;
  /** Orderly mode: how long the queue pauses after this failure. Starts at the consumer option. */
  suspendCurrentQueueTimeMillis: number;
}

/** Return nothing (or 'CONSUME_SUCCESS') for success; throw or return 'RECONSUME_LATER' / 'SUSPEND_CURRENT_QUEUE_A_MOMENT' for failure. */
export type MessageListener = (msg: MessageExt, ctx: ConsumeContext) => ConsumeStatus | void | Promise<ConsumeStatus | void>;

export type ConsumeOutcome = { ok: true } | { ok: false; error: Error | undefined };

/** Runs the listener and turns whatever it does into an outcome (never throws). */
export async function runListener(listener: MessageListener, msg: MessageExt, ctx: ConsumeContext): Promise<ConsumeOutcome> {
  try {
    const status = await listener(msg, ctx);
    if (status === undefined || status === 'CONSUME_SUCCESS') return { ok: true };
    return { ok: false, error: undefined };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
}
