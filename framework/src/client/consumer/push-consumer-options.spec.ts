import { describe, expect, it } from 'vitest';
import { MQClientError } from '../errors';
import { resolvePushConsumerOptions } from './push-consumer-options';
import { PushConsumer } from './push-consumer';

const base = { namesrvAddr: '127.0.0.1:9876', group: 'G' };

describe('PushConsumer options', () => {
  it('uses RocketMQ defaults: 16 retries concurrently, unlimited orderly', () => {
    const c = resolvePushConsumerOptions(base);
    expect(c).toMatchObject({
      messageModel: 'CLUSTERING',
      consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
      maxReconsumeTimes: 16,
      consumeThreadMax: 20,
      pullBatchSize: 32,
      pullThresholdForQueue: 1000,
      pullThresholdSizeForQueueBytes: 100 * 1024 * 1024,
      suspendCurrentQueueTimeMillis: 1000,
      delayLevelWhenNextConsume: 0,
      rebalanceIntervalMs: 20_000,
      brokerSuspendMaxTimeMillis: 15_000,
      consumerTimeoutMillisWhenSuspend: 30_000,
      pullTimeDelayMillsWhenException: 1000,
    });
    expect(resolvePushConsumerOptions({ ...base, orderly: true }).maxReconsumeTimes).toBe(Number.POSITIVE_INFINITY);
    expect(resolvePushConsumerOptions({ ...base, orderly: true, maxReconsumeTimes: 3 }).maxReconsumeTimes).toBe(3);
  });

  it('rejects ORDERLY with BROADCASTING at construction, with a clear error', () => {
    expect(() => new PushConsumer({ ...base, orderly: true, messageModel: 'BROADCASTING' })).toThrow(/orderly.*BROADCASTING/);
    try {
      new PushConsumer({ ...base, orderly: true, messageModel: 'BROADCASTING' });
    } catch (err) {
      expect(err).toBeInstanceOf(MQClientError);
      expect((err as MQClientError).code).toBe('ILLEGAL_ARGUMENT');
    }
  });

  it('rejects bad values', () => {
    expect(() => resolvePushConsumerOptions({ ...base, group: '' })).toThrow(/group/);
    expect(() => resolvePushConsumerOptions({ ...base, group: 'a b' })).toThrow(/illegal/);
    expect(() => resolvePushConsumerOptions({ ...base, consumeThreadMax: 0 })).toThrow(/consumeThreadMax/);
    expect(() => resolvePushConsumerOptions({ ...base, suspendCurrentQueueTimeMillis: 5 })).toThrow(/suspendCurrentQueueTimeMillis/);
    expect(() => resolvePushConsumerOptions({ ...base, delayLevelWhenNextConsume: -2 })).toThrow(/delayLevelWhenNextConsume/);
    expect(() => resolvePushConsumerOptions({ ...base, consumerTimeoutMillisWhenSuspend: 1000 })).toThrow(/larger/);
  });

  it('start() needs a listener and a subscription', async () => {
    await expect(new PushConsumer(base).start()).rejects.toThrow(/onMessage/);
    await expect(new PushConsumer(base).onMessage(() => undefined).start()).rejects.toThrow(/subscribe/);
  });
});
