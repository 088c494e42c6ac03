/**
 * Async send retry: attempts with backoff and one msgId, hand-off after the last attempt, permanent
 * errors, flush at shutdown (stub producer); then against brokers: a retry goes to the other broker
 * when one is down, and with every broker down the message lands in the outbox (SQLite).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQClientError } from '../client/errors';
import type { Message } from '../client/message';
import { Producer, type SendOptions, type SendResult } from '../client/producer/producer';
import { startTestCluster, type TestCluster } from '../client/cluster.test-support';
import { createOutbox } from '../outbox/outbox';
import { RocketTemplate } from '../template/rocket-template';
import { createTestKnex, testKnexConfig } from '../transaction/db.test-support';
import { AsyncSendFailedError, AsyncSendRetrier, sendAsyncWithRetry, type AsyncAttemptFailedEvent, type HandOffContext } from './async-send-retry';
import { backoffDelayMs, resolveBackoff } from './backoff';

const down = () => new MQClientError('CONNECT_FAILED', 'connect ECONNREFUSED 127.0.0.1:1', { retriable: true });

/** A Producer stand-in: `outcomes` are consumed one per sendAsync call. */
function stubProducer(outcomes: Array<Error | 'ok'>) {
  const calls: Array<{ msg: Message; options: SendOptions | undefined }> = [];
  const producer = {
    sendAsync(msg: Message, options?: SendOptions): Promise<SendResult> {
      calls.push({ msg, options });
      const next = outcomes.shift() ?? 'ok';
      if (next !== 'ok') return Promise.reject(next);
      return Promise.resolve({ status: 'SEND_OK', msgId: msg.properties!.UNIQ_KEY!, offsetMsgId: 'X', messageQueue: { topic: msg.topic, brokerName: 'b', queueId: 0 }, queueOffset: 0 });
    },
  };
  return { producer: producer as unknown as Producer, calls };
}

describe('backoff', () => {
  it('grows exponentially, caps at maxMs and jitters downwards only', () => {
    const b = resolveBackoff({ initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0.5 });
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffDelayMs(n, b, () => 0))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelayMs(2, b, () => 1)).toBe(100);
    expect(() => resolveBackoff({ jitter: 2 })).toThrow(/jitter/);
    expect(() => resolveBackoff({ initialMs: 10, maxMs: 5 })).toThrow(/maxMs/);
  });
});

describe('AsyncSendRetrier (stub producer)', () => {
  it('retries with backoff under one msgId and counts the attempts', async () => {
    const { producer, calls } = stubProducer([down(), down(), 'ok']);
    const retrier = new AsyncSendRetrier(producer, { maxAttempts: 4, backoff: { initialMs: 20, multiplier: 2, maxMs: 1_000, jitter: 0 } });
    const failed: AsyncAttemptFailedEvent[] = [];
    retrier.events.on('attempt.failed', (e) => failed.push(e));
    const t0 = Date.now();
    const result = await retrier.send({ topic: 'T', body: 'x' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(calls).toHaveLength(3);
    const ids = new Set(calls.map((c) => c.msg.properties!.UNIQ_KEY));
    expect(ids.size).toBe(1);
    expect(result.msgId).toBe([...ids][0]);
    expect(failed.map((e) => [e.attempt, e.nextDelayMs])).toEqual([
      [1, 20],
      [2, 40],
    ]);
    expect(retrier.stats()).toMatchObject({ sends: 1, attempts: 3, retries: 2, succeeded: 1, succeededAfterRetry: 1, handedOff: 0 });
  });

  it('after the last attempt hands the message (same msgId, sharding key) to the fallback and rejects with handedOff', async () => {
    const { producer, calls } = stubProducer([down(), down()]);
    const handed: Array<{ msg: Message; ctx: HandOffContext }> = [];
    const retrier = new AsyncSendRetrier(producer, {
      maxAttempts: 2,
      backoff: { initialMs: 1, maxMs: 1 },
      fallback: async (msg, ctx) => {
        handed.push({ msg, ctx });
        return 42;
      },
    });
    const err = await retrier.send({ topic: 'T', body: 'x' }, { shardingKey: 'order-7' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AsyncSendFailedError);
    expect(err).toMatchObject({ handedOff: true, handOffId: 42, attempts: 2, code: 'CONNECT_FAILED' });
    expect(handed).toHaveLength(1);
    expect(handed[0]!.ctx).toMatchObject({ attempts: 2, shardingKey: 'order-7' });
    expect(handed[0]!.msg.properties!.UNIQ_KEY).toBe(calls[0]!.msg.properties!.UNIQ_KEY);
    // Orderly: the same hash key (queue) on every attempt.
    expect(calls.map((c) => c.options?.arg)).toEqual(['order-7', 'order-7']);
    expect(retrier.stats()).toMatchObject({ handedOff: 1, retries: 1 });
  });

  it('permanent errors neither retry nor hand off; without a fallback the message is reported dropped', async () => {
    const tooLarge = stubProducer([new MQClientError('MESSAGE_TOO_LARGE', 'big')]);
    let handOffs = 0;
    const r1 = new AsyncSendRetrier(tooLarge.producer, { maxAttempts: 5, fallback: async () => `${++handOffs}` });
    await expect(r1.send({ topic: 'T', body: 'x' })).rejects.toMatchObject({ handedOff: false, attempts: 1 });
    expect(handOffs).toBe(0);
    const noFallback = stubProducer([down(), down()]);
    const r2 = new AsyncSendRetrier(noFallback.producer, { maxAttempts: 2, backoff: { initialMs: 1, maxMs: 1 } });
    const dropped: string[] = [];
    r2.events.on('dropped', (e) => dropped.push(e.reason));
    await expect(r2.send({ topic: 'T', body: 'x' })).rejects.toMatchObject({ handedOff: false, attempts: 2 });
    expect(dropped).toEqual(['no-fallback']);
  });

  it('a failing hand-off is reported, not swallowed; flush() cuts the wait to one last attempt', async () => {
    const { producer } = stubProducer([down(), down(), down()]);
    const retrier = new AsyncSendRetrier(producer, {
      maxAttempts: 3,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      fallback: () => Promise.reject(new Error('db down')),
    });
    const pending = retrier.send({ topic: 'T', body: 'x' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    expect(retrier.stats().waiting).toBe(1);
    const t0 = Date.now();
    retrier.flush();
    const err = await pending;
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(err).toMatchObject({ handedOff: false, attempts: 2 }); // one last attempt, then the hand-off
    expect((err as AsyncSendFailedError).handOffError?.message).toBe('db down');
    expect(retrier.stats()).toMatchObject({ handOffFailed: 1 });
  });

  it('sendAsyncWithRetry is the one-call form', async () => {
    const { producer, calls } = stubProducer([down(), 'ok']);
    const r = await sendAsyncWithRetry(producer, { topic: 'T', body: 'x' }, { maxAttempts: 2, backoff: { initialMs: 1, maxMs: 1 } });
    expect(r.status).toBe('SEND_OK');
    expect(calls).toHaveLength(2);
  });
});

describe('async send retry against brokers', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await startTestCluster({ brokers: 2 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-spec-'));
  });

  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('template.asyncSend: a failed attempt is retried on the other broker; every message is sent', async () => {
    const topic = 'AsyncRetryTwo';
    await cluster.createTopic(topic, 4);
    // No inner retries: each outer attempt is one try, so the retry we count is ours.
    const producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'pg-async-retry', clientIP: '127.0.0.1', retryTimesWhenSendAsyncFailed: 0 });
    const template = new RocketTemplate({ producer, asyncSendRetry: { maxAttempts: 3, backoff: { initialMs: 10, maxMs: 50 } } });
    await template.start();
    try {
      await template.syncSend(topic, 'warm'); // route cached with both brokers
      await cluster.stopBroker('broker-b');
      const results: SendResult[] = [];
      for (let i = 0; i < 8; i++) results.push(await template.asyncSend(topic, { i }));
      const viaCallback = await new Promise<SendResult>((resolve, reject) => template.asyncSend(topic, 'cb', { onSuccess: resolve, onException: reject }));
      for (const r of [...results, viaCallback]) expect(r.messageQueue.brokerName).toBe('broker-a');
      // Round-robin over 8 queues hits broker-b once; it is then isolated by the producer.
      expect(template.asyncSendRetrier!.stats()).toMatchObject({ sends: 9, retries: 1, succeededAfterRetry: 1, handedOff: 0 });
    } finally {
      await template.destroy();
    }
  });

  it('with every broker down the message lands in the outbox (same msgId) instead of being dropped', async () => {
    const topic = 'AsyncRetryDown';
    await cluster.createTopic(topic, 2, ['broker-a']);
    const knex = createTestKnex(testKnexConfig('sqlite', path.join(dir, 'down.sqlite')));
    const producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'pg-async-down', clientIP: '127.0.0.1', brokerIsolationMs: 0 });
    const template = new RocketTemplate({ producer });
    const outbox = createOutbox({ knex, template });
    await outbox.migrate();
    const retrier = template.setAsyncSendRetry({ maxAttempts: 3, backoff: { initialMs: 10, maxMs: 50 }, fallback: outbox })!;
    const failedAttempts: number[] = [];
    retrier.events.on('attempt.failed', (e) => failedAttempts.push(e.attempt));
    await template.start();
    try {
      await template.syncSend(topic, 'warm');
      await cluster.stopBroker('broker-a');
      const err = (await template.asyncSendOrderly(`${topic}:Paid`, { order: 9 }, 'order-9').catch((e: unknown) => e)) as AsyncSendFailedError;
      expect(err).toBeInstanceOf(AsyncSendFailedError);
      expect(err.handedOff).toBe(true);
      expect(failedAttempts).toEqual([1, 2, 3]);
      const row = (await outbox.findByMsgId(err.msgId))!;
      expect(row).toMatchObject({ status: 'PENDING', topic, tags: 'Paid', shardingKey: 'order-9', attempts: 0 });
      expect(JSON.parse(row.body.toString())).toEqual({ order: 9 });
      expect(row.properties.contentType).toBe('application/json');
      expect(retrier.stats()).toMatchObject({ attempts: 3, retries: 2, handedOff: 1 });
    } finally {
      await template.destroy();
      await knex.destroy();
    }
  });
});
