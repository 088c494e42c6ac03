/**
 * Dead-letter hook types and the properties Rocketry writes on a dead letter.
 *
 * When a CLUSTERING listener gives up on a message (its reconsume times are used up, or
 * `delayLevelWhenNextConsume` is -1), the container does not use CONSUMER_SEND_MSG_BACK (whose header
 * cannot carry a reason). It sends a copy to `%RETRY%<group>` with RECONSUME_TIME ≥ MAX_RECONSUME_TIMES
 * — the fallback path of the Java client — which the Apache broker and ours both route to
 * `%DLQ%<group>` keeping the properties. The copy keeps UNIQ_KEY, KEYS, TAGS, user properties and
 * sets RETRY_TOPIC (original topic), ORIGIN_MESSAGE_ID and the `ROCKETRY_DLQ_*` properties below.
 * If that send fails, the message takes the ordinary send-back path (the broker still moves it to the
 * DLQ, without the reason) and the hook is called once the broker took it.
 */
import { DLQ_PROPERTIES } from '@rocketry/broker';
import type { MessageExt } from '../client/message';

export { DLQ_PROPERTIES };

/** Why a message went to the DLQ (second argument of `onDeadLetter`). */
export interface DeadLetterReason {
  /** The last failure: the error message, `returned RECONSUME_LATER`, or a dedup reason. */
  message: string;
  /** The thrown error, when there was one. */
  error?: Error;
  /** `Class.method` of the listener. */
  listener: string;
  group: string;
  /** Consumptions so far (the failed one included is `reconsumeTimes + 1`). */
  reconsumeTimes: number;
  /** `'reason-recorded'`: the copy with the ROCKETRY_DLQ_REASON property went to the DLQ; `'send-back'`: fallback, no reason on the message. */
  path: 'reason-recorded' | 'send-back';
}

/**
 * Called once a message is in `%DLQ%<group>`. A function (called with the listener instance as
 * `this`) or the name of a method of the listener's class. Errors it throws are logged, not retried.
 */
export type DeadLetterHook = ((message: MessageExt, reason: DeadLetterReason) => unknown) | string;

/** What a dead letter carries (read from its properties). */
export interface DeadLetterInfo {
  originalTopic: string | undefined;
  originMsgId: string | undefined;
  reason: string | undefined;
  listener: string | undefined;
  /** Epoch ms when the container dead-lettered it. */
  deadAt: number | undefined;
  reconsumeTimes: number;
}

/** Reads the dead-letter facts of a message consumed from `%DLQ%<group>` (e.g. in a `@DlqListener`). */
export function deadLetterInfo(message: MessageExt): DeadLetterInfo {
  const p = message.properties;
  const at = p[DLQ_PROPERTIES.DEAD_AT];
  return {
    originalTopic: p.RETRY_TOPIC,
    originMsgId: p.ORIGIN_MESSAGE_ID,
    reason: p[DLQ_PROPERTIES.REASON],
    listener: p[DLQ_PROPERTIES.LISTENER],
    deadAt: at !== undefined && /^\d+$/.test(at) ? Number(at) : undefined,
    reconsumeTimes: message.reconsumeTimes,
  };
}
