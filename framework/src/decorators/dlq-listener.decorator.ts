/**
 * `@DlqListener({ group })`: a listener of `%DLQ%<group>`, the dead letters of consumer group `group`.
 * It is a `@RocketListener` with `topic: '%DLQ%<group>'` and its own consumer group
 * (`consumerGroup`, default `<group>-dlq`), starting from the first dead letter by default. The payload
 * is converted like any listener's; `deadLetterInfo(message)` (dlq/dead-letter.ts) reads the original
 * topic and the recorded failure reason.
 */
import { dlqTopic } from '@rocketry/broker/protocol';
import { RocketListener } from './rocket-listener.decorator';
import type { RocketListenerOptions } from './rocket-listener-options';

export interface DlqListenerOptions extends Omit<RocketListenerOptions, 'topic' | 'group'> {
  /** The consumer group whose dead letters to read (the `%DLQ%<group>` topic). Required. */
  group: string;
  /** The consumer group of this listener. @defaultValue `'<group>-dlq'` */
  consumerGroup?: string;
}

export const DLQ_LISTENER_DEFAULTS = {
  consumerGroupSuffix: '-dlq',
  consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
} as const;

/** The `@RocketListener` options a `@DlqListener` stands for. */
export function dlqListenerOptions(options: DlqListenerOptions): RocketListenerOptions {
  const { group, consumerGroup, ...rest } = options ?? ({} as DlqListenerOptions);
  if (typeof group !== 'string' || group.trim() === '') throw new TypeError('@DlqListener: group (the consumer group whose DLQ to read) is required');
  return {
    consumeFromWhere: DLQ_LISTENER_DEFAULTS.consumeFromWhere,
    ...rest,
    topic: dlqTopic(group),
    group: consumerGroup ?? `${group}${DLQ_LISTENER_DEFAULTS.consumerGroupSuffix}`,
  };
}

export function DlqListener(options: DlqListenerOptions): ClassDecorator & MethodDecorator {
  return RocketListener(dlqListenerOptions(options));
}
