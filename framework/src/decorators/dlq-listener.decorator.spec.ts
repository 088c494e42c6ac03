import { describe, expect, it } from 'vitest';
import { exploreListeners } from '../listener/listener-metadata-explorer';
import { DlqListener, dlqListenerOptions } from './dlq-listener.decorator';

describe('@DlqListener', () => {
  it('is a @RocketListener on %DLQ%<group> with its own consumer group, from the first dead letter', () => {
    class DeadOrders {
      @DlqListener({ group: 'orders-cg' })
      onDead(): void {}
      @DlqListener({ group: 'pay-cg', consumerGroup: 'pay-dlq-audit', payloadType: 'string', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' })
      onPay(): void {}
    }
    const found = exploreListeners(new DeadOrders()).map((d) => d.options);
    expect(found).toEqual(
      expect.arrayContaining([
        { topic: '%DLQ%orders-cg', group: 'orders-cg-dlq', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' },
        { topic: '%DLQ%pay-cg', group: 'pay-dlq-audit', payloadType: 'string', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' },
      ]),
    );
  });

  it('needs the group', () => {
    expect(() => dlqListenerOptions({} as never)).toThrow(/@DlqListener: group .* is required/);
  });
});
