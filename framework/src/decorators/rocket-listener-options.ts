/**
 * `@RocketListener` options: rocketmq-spring's `@RocketMQMessageListener` attributes with the same
 * defaults and mode-dependent meanings (feature-anchors.md §1.1). Defaults live in
 * `ROCKET_LISTENER_DEFAULTS`; validation and `${placeholder}` resolution happen at registration
 * (framework/src/listener/listener-definition.ts), so the decorator itself only stores what it got.
 */
import type { ConsumeFromWhereName, MessageModelName } from '../client/consumer/consumer-types';
import type { DedupOptions } from '../dedup/dedup-options';
import type { DeadLetterHook } from '../dlq/dead-letter';

/** A string holding a `${name}` or `${name:default}` placeholder, resolved from configuration at registration. */
export type PlaceholderString = `${string}\${${string}}${string}`;

/** How the message body becomes the handler's first argument (see converter/message-converter.ts). */
export type PayloadType = 'auto' | 'json' | 'string' | 'buffer';

export type ConsumeModeName = 'CONCURRENTLY' | 'ORDERLY';
export type SelectorTypeName = 'TAG' | 'SQL92';

export interface RocketListenerOptions {
  /** Topic to subscribe. Required (may be a placeholder). */
  topic: string;
  /** Consumer group (`consumerGroup`). Required (may be a placeholder). */
  group: string;
  /** Tag expression: `'*'`, `'TagA'`, `'TagA || TagB'` (`selectorExpression`). @defaultValue `'*'` */
  selector?: string;
  /** Only `'TAG'` is supported by the Rocketry client; `'SQL92'` is rejected at registration. @defaultValue `'TAG'` */
  selectorType?: SelectorTypeName;
  /** Orderly consumption (`consumeMode = ORDERLY`): one message at a time per queue, broker queue locks. @defaultValue false */
  orderly?: boolean | PlaceholderString;
  /** rocketmq-spring's spelling of `orderly`; both may be given only when they agree. @defaultValue `'CONCURRENTLY'` */
  consumeMode?: ConsumeModeName | PlaceholderString;
  /** `'CLUSTERING'` or `'BROADCASTING'` (not with orderly). @defaultValue `'CLUSTERING'` */
  messageModel?: MessageModelName | PlaceholderString;
  /** -1 → 16 when concurrent, unlimited when orderly; then `%DLQ%<group>`. @defaultValue -1 */
  maxReconsumeTimes?: number | PlaceholderString;
  /** Handler calls in flight at once for the group. @defaultValue 64 (rocketmq-spring) */
  consumeThreadMax?: number | PlaceholderString;
  /** Where a group without a committed offset starts. @defaultValue `'CONSUME_FROM_LAST_OFFSET'` */
  consumeFromWhere?: ConsumeFromWhereName | PlaceholderString;
  /** For `CONSUME_FROM_TIMESTAMP`: epoch ms, a Date, or an ISO string. @defaultValue now − 30 min */
  consumeTimestamp?: number | Date | string;
  /** Orderly: pause of the queue after a failure, 10..30000 ms. @defaultValue 1000 */
  suspendCurrentQueueTimeMillis?: number | PlaceholderString;
  /** Concurrent: -1 straight to DLQ, 0 broker chooses the retry delay, > 0 this delay level. @defaultValue 0 */
  delayLevelWhenNextConsume?: number | PlaceholderString;
  /** Bounded drain at shutdown: longest wait for in-flight handlers. @defaultValue 1000 */
  awaitTerminationMillisWhenShutdown?: number | PlaceholderString;
  /** Messages per pull. @defaultValue 32 */
  pullBatchSize?: number | PlaceholderString;
  /** Switch the listener off (also `rocketmq.consumer.listeners.<group>.<topic>=false`). @defaultValue true */
  enabled?: boolean | PlaceholderString;
  /** Client instance name (part of the client id). @defaultValue `'DEFAULT'` (→ pid-based) */
  instanceName?: string;
  /** NameServer of this listener alone. @defaultValue `rocketmq.name-server` */
  nameServer?: string;
  /** Body → payload conversion for this listener. @defaultValue `'auto'` */
  payloadType?: PayloadType;
  /**
   * Idempotent consumption (Redis or a DB unique key); see dedup/dedup-options.ts. CLUSTERING only.
   * @defaultValue none (every delivery runs the handler)
   */
  dedup?: DedupOptions;
  /**
   * Called once a message of this listener is in `%DLQ%<group>`, with the failure reason (which is
   * also recorded on the dead letter). A function (`this` = the listener instance) or a method name.
   * @defaultValue none
   */
  onDeadLetter?: DeadLetterHook;
}

/** Attribute names accepted by `@RocketListener`; anything else fails registration. */
export const ROCKET_LISTENER_OPTION_NAMES: readonly (keyof RocketListenerOptions)[] = [
  'topic',
  'group',
  'selector',
  'selectorType',
  'orderly',
  'consumeMode',
  'messageModel',
  'maxReconsumeTimes',
  'consumeThreadMax',
  'consumeFromWhere',
  'consumeTimestamp',
  'suspendCurrentQueueTimeMillis',
  'delayLevelWhenNextConsume',
  'awaitTerminationMillisWhenShutdown',
  'pullBatchSize',
  'enabled',
  'instanceName',
  'nameServer',
  'payloadType',
  'dedup',
  'onDeadLetter',
];

/** rocketmq-spring (or common) names that mean one of ours: used to suggest the right name in errors. */
export const ROCKET_LISTENER_OPTION_ALIASES: Readonly<Record<string, keyof RocketListenerOptions>> = {
  consumerGroup: 'group',
  selectorExpression: 'selector',
  tag: 'selector',
  tags: 'selector',
  maxRetries: 'maxReconsumeTimes',
  awaitTerminationMs: 'awaitTerminationMillisWhenShutdown',
  namesrvAddr: 'nameServer',
  idempotent: 'dedup',
  deduplicate: 'dedup',
  onDlq: 'onDeadLetter',
  deadLetterHook: 'onDeadLetter',
};

/** `@RocketMQMessageListener` defaults (rocketmq-spring 2.3.x). */
export const ROCKET_LISTENER_DEFAULTS = {
  selector: '*',
  selectorType: 'TAG',
  orderly: false,
  messageModel: 'CLUSTERING',
  /** -1 → 16 concurrently / unlimited orderly (resolved by the push consumer). */
  maxReconsumeTimes: -1,
  consumeThreadMax: 64,
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
  suspendCurrentQueueTimeMillis: 1_000,
  delayLevelWhenNextConsume: 0,
  awaitTerminationMillisWhenShutdown: 1_000,
  pullBatchSize: 32,
  enabled: true,
  instanceName: 'DEFAULT',
  payloadType: 'auto',
} as const;
