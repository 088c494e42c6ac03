/** Small types shared by the push-consumer modules. */

/** Time seam (structurally the broker's `common/clock.ts` Clock, so its ManualClock fits in specs). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type MessageModelName = 'CLUSTERING' | 'BROADCASTING';
export type ConsumeFromWhereName = 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP';

/** What a listener may return; `undefined` (or nothing) means success. */
export type ConsumeStatus = 'CONSUME_SUCCESS' | 'RECONSUME_LATER' | 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
