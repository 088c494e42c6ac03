import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSubscriptionData,
  ConsumeFromWhere,
  ConsumeType,
  MessageModel,
  MessageSysFlag,
  retryTopic,
  type MessageQueue,
  type TopicRouteData,
} from '@rocketry/broker/protocol';
import { startTestCluster, waitUntil, type TestCluster } from '../cluster.test-support';
import { MessageTooLargeError, MQBrokerError, MQClientError } from '../errors';
import { Instrumentation, type RetryEvent, type SendEvent } from '../instrumentation';
import type { MessageExt } from '../message';
import type { MQClientAPI } from '../mq-client-api';
import { getOrCreateClientInstance } from '../mq-client-instance';
import { readQueue } from '../read-queue.test-support';
import { Producer, publishQueuesOf, selectMessageQueueByHash, type ProducerOptions } from './producer';

const UNIQ_KEY_RE = /^[0-9A-F]{32}$/;

async function pullQueue(api: MQClientAPI, addr: string, topic: string, queueId: number, from = 0): Promise<MessageExt[]> {
  return (await readQueue(api, addr, { topic, queueId, offset: from })).messages;
}

describe('Producer against an in-process NameServer + brokers', () => {
  let cluster: TestCluster;
  const producers: Producer[] = [];
  let seq = 0;
  const topicName = () => `ProdSpec${Date.now() % 100000}_${seq++}`;

  async function newProducer(extra: Partial<ProducerOptions> = {}): Promise<Producer> {
    const p = new Producer({ namesrvAddr: cluster.namesrvAddr, group: `pg_${seq++}`, clientIP: '127.0.0.1', ...extra });
    await p.start();
    producers.push(p);
    return p;
  }

  beforeAll(async () => {
    cluster = await startTestCluster({ brokers: 2 });
  });

  afterAll(async () => {
    for (const p of producers) await p.shutdown();
    await cluster?.stop();
  });

  it('sends sync with a UNIQ_KEY msgId, tags, keys, properties, and the message reads back', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 2);
    const p = await newProducer();
    const r = await p.send({ topic, tags: 'TagA', keys: ['k-1', 'k-2'], body: 'hello', properties: { color: 'red' } });
    expect(r.status).toBe('SEND_OK');
    expect(r.msgId).toMatch(UNIQ_KEY_RE);
    expect(r.offsetMsgId).toMatch(/^[0-9A-F]{32}$/);
    expect(r.offsetMsgId).not.toBe(r.msgId);
    expect(r.messageQueue.topic).toBe(topic);
    const addr = cluster.brokers.find((b) => b.name === r.messageQueue.brokerName)!.addr;
    const msgs = await pullQueue(p.clientInstance.api, addr, topic, r.messageQueue.queueId, r.queueOffset);
    const m = msgs[0]!;
    expect(m.body.toString()).toBe('hello');
    expect(m.tags).toBe('TagA');
    expect(m.keys).toEqual(['k-1', 'k-2']);
    expect(m.properties.color).toBe('red');
    expect(m.msgId).toBe(r.msgId);
    expect(m.offsetMsgId).toBe(r.offsetMsgId);
    expect(m.queueOffset).toBe(r.queueOffset);
    expect(m.bornHost).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('spreads sends round-robin over the queues of both brokers', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 2);
    const p = await newProducer();
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const r = await p.send({ topic, body: `m${i}` });
      seen.add(`${r.messageQueue.brokerName}/${r.messageQueue.queueId}`);
    }
    expect(seen.size).toBe(4);
  });

  it('compresses bodies at or over compressMsgBodyOverHowmuch, stores them compressed, and decodes them intact', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1);
    const p = await newProducer();
    const big = Buffer.from('abcdefghij'.repeat(1000)); // 10000 bytes, compressible
    const r = await p.send({ topic, body: big });
    const small = await p.send({ topic, body: 'x'.repeat(100) });
    const addr = cluster.brokers.find((b) => b.name === r.messageQueue.brokerName)!.addr;
    const res = await readQueue(p.clientInstance.api, addr, { topic, queueId: r.messageQueue.queueId, offset: r.queueOffset, max: 1 });
    const m = res.messages[0]!;
    expect(m.sysFlag & MessageSysFlag.COMPRESSED).toBe(MessageSysFlag.COMPRESSED);
    expect(m.body.equals(big)).toBe(true);
    // The raw record is far smaller than the body: the broker stored the compressed bytes.
    expect(res.body!.length).toBeLessThan(1000);
    const smallAddr = cluster.brokers.find((b) => b.name === small.messageQueue.brokerName)!.addr;
    const sm = (await pullQueue(p.clientInstance.api, smallAddr, topic, small.messageQueue.queueId, small.queueOffset))[0]!;
    expect(sm.sysFlag & MessageSysFlag.COMPRESSED).toBe(0);
  });

  it('rejects a body over maxMessageSize before sending anything', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1);
    const failures: Error[] = [];
    const p = await newProducer({ maxMessageSize: 1024 });
    p.instrumentation.on('send.failure', (e) => failures.push(e.error));
    await expect(p.send({ topic, body: Buffer.alloc(1025, 1) })).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(p.sendBatch([{ topic, body: Buffer.alloc(600, 1) }, { topic, body: Buffer.alloc(600, 2) }])).rejects.toThrow(/batch of 2 messages/);
    expect(failures).toHaveLength(2);
    for (const b of cluster.brokers) expect(await pullQueue(p.clientInstance.api, b.addr, topic, 0)).toHaveLength(0);
  });

  it('rejects properties that could not be stored as given (separators, lone surrogates) before sending', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1);
    const p = await newProducer();
    await expect(p.send({ topic, body: 'x', properties: { note: 'a\u0002TAGS\u0001b' } })).rejects.toThrow(/note contains the separator/);
    await expect(p.send({ topic, body: 'x', tags: 'T\ud800' })).rejects.toThrow(/lone surrogate/);
    await expect(p.sendBatch([{ topic, body: 'x' }, { topic, body: 'y', properties: { 'a\u0001b': 'v' } }])).rejects.toThrow(/separator/);
    for (const b of cluster.brokers) expect(await pullQueue(p.clientInstance.api, b.addr, topic, 0)).toHaveLength(0);
  });

  it('surfaces a non-retriable broker refusal as MQBrokerError with the response code after one attempt', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1);
    const retries: RetryEvent[] = [];
    const p = await newProducer({ maxMessageSize: 8 * 1024 * 1024, compressMsgBodyOverHowmuch: 64 * 1024 * 1024 });
    p.instrumentation.on('retry', (e) => retries.push(e));
    const err = await p.send({ topic, body: Buffer.alloc(5 * 1024 * 1024, 7) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MQBrokerError);
    expect((err as MQBrokerError).responseCode).toBe(13); // MESSAGE_ILLEGAL: over the broker's 4 MiB
    expect((err as MQBrokerError).retriable).toBe(false);
    expect(retries).toHaveLength(0);
  });

  it('sends a batch with SEND_BATCH_MESSAGE: one queue, consecutive offsets, one UNIQ_KEY each', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 2);
    const p = await newProducer();
    const r = await p.sendBatch([
      { topic, body: 'b0', tags: 'T', keys: 'k0' },
      { topic, body: 'b1', tags: 'T', keys: 'k1' },
      { topic, body: 'b2', tags: 'T', keys: 'k2' },
    ]);
    expect(r.status).toBe('SEND_OK');
    expect(r.msgIds).toHaveLength(3);
    for (const id of r.msgIds) expect(id).toMatch(UNIQ_KEY_RE);
    expect(new Set(r.msgIds).size).toBe(3);
    expect(r.offsetMsgIds).toHaveLength(3);
    expect(r.msgId).toBe(r.msgIds.join(','));
    const addr = cluster.brokers.find((b) => b.name === r.messageQueue.brokerName)!.addr;
    const msgs = await pullQueue(p.clientInstance.api, addr, topic, r.messageQueue.queueId, r.queueOffset);
    expect(msgs.map((m) => m.body.toString())).toEqual(['b0', 'b1', 'b2']);
    expect(msgs.map((m) => m.msgId)).toEqual(r.msgIds);
    expect(msgs.map((m) => m.queueOffset)).toEqual([r.queueOffset, r.queueOffset + 1, r.queueOffset + 2]);
    await expect(p.sendBatch([{ topic, body: 'a' }, { topic: `${topic}x`, body: 'b' }])).rejects.toThrow(/same topic/);
    await expect(p.sendBatch([{ topic, body: 'a', delayLevel: 2 }])).rejects.toThrow(/delayLevel/);
  });

  it('autoBatch coalesces one turn of sendAsync calls into batch requests; each caller gets its own result', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 2);
    const p = await newProducer({ autoBatch: true, batchMaxBytes: 16 * 1024 });
    const requests: SendEvent[] = [];
    p.instrumentation.on('send', (e) => requests.push(e));
    const count = 60;
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => p.sendAsync({ topic, body: Buffer.alloc(400, i), keys: `k${i}`, properties: { n: String(i) } })),
    );
    // 60 x (400 + overhead) bytes at 16 KiB per batch: a few batch requests, not 60 sends.
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(requests.length).toBeLessThanOrEqual(4);
    expect(requests.reduce((n, e) => n + e.count, 0)).toBe(count);
    expect(new Set(results.map((r) => r.msgId)).size).toBe(count);
    for (const r of results) {
      expect(r.status).toBe('SEND_OK');
      expect(r.msgId).toMatch(UNIQ_KEY_RE);
      expect(r.offsetMsgId).not.toContain(',');
    }
    // Every result names where its own message landed.
    for (const [i, r] of results.entries()) {
      const b = cluster.brokers.find((x) => x.name === r.messageQueue.brokerName)!;
      const [stored] = await pullQueue(p.clientInstance.api, b.addr, topic, r.messageQueue.queueId, r.queueOffset);
      expect(stored!.queueOffset).toBe(r.queueOffset);
      expect(stored!.msgId).toBe(r.msgId);
      expect(stored!.offsetMsgId).toBe(r.offsetMsgId);
      expect(stored!.properties.n).toBe(String(i));
      expect(stored!.body).toEqual(Buffer.alloc(400, i));
    }
  });

  it('autoBatch leaves delayed, selector and large messages to single sends and flushes open batches on shutdown', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 2);
    const p = new Producer({ namesrvAddr: cluster.namesrvAddr, group: `pg_${seq++}`, clientIP: '127.0.0.1', autoBatch: true, batchMaxDelayMs: 60_000 });
    await p.start();
    const requests: SendEvent[] = [];
    p.instrumentation.on('send', (e) => requests.push(e));
    const delayed = p.sendAsync({ topic, body: 'd', delayLevel: 1 });
    const selected = p.sendAsync({ topic, body: 's' }, { messageQueue: { topic, brokerName: cluster.brokers[0]!.name, queueId: 1 } });
    const large = p.sendAsync({ topic, body: Buffer.alloc(5000, 1) });
    const pooled = [p.sendAsync({ topic, body: 'a' }), p.sendAsync({ topic, body: 'b' })];
    await Promise.all([delayed, selected, large]);
    expect(requests.map((e) => e.count)).toEqual([1, 1, 1]);
    // The open batch would wait 60 s; shutdown sends it first.
    await p.shutdown();
    const [a, b] = await Promise.all(pooled);
    expect(requests.map((e) => e.count)).toEqual([1, 1, 1, 2]);
    expect(b!.queueOffset).toBe(a!.queueOffset + 1);
    expect(b!.messageQueue).toEqual(a!.messageQueue);
  });

  it('sends oneway, async with callbacks and async as a promise', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1, ['broker-a']);
    const p = await newProducer();
    const addr = cluster.brokers[0]!.addr;
    await p.sendOneway({ topic, body: 'oneway-1' });
    const viaCallback = await new Promise<string>((resolve, reject) => {
      p.sendAsync({ topic, body: 'async-cb' }, { onSuccess: (r) => resolve(r.msgId), onException: reject });
    });
    expect(viaCallback).toMatch(UNIQ_KEY_RE);
    const viaPromise = await p.sendAsync({ topic, body: 'async-promise' });
    expect(viaPromise.status).toBe('SEND_OK');
    const bodies = await waitUntil(async () => {
      const msgs = await pullQueue(p.clientInstance.api, addr, topic, 0);
      return msgs.length === 3 ? msgs.map((m) => m.body.toString()) : undefined;
    });
    expect(bodies.sort()).toEqual(['async-cb', 'async-promise', 'oneway-1']);
    const errors: Error[] = [];
    await new Promise<void>((resolve) => {
      p.sendAsync({ topic: 'bad topic!', body: 'x' }, { onSuccess: () => resolve(), onException: (e) => (errors.push(e), resolve()) });
    });
    expect(errors[0]).toBeInstanceOf(MQClientError);
  });

  it('sendOrderly keeps one sharding key on one queue (Java hash selector) and custom selectors are honoured', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 4);
    const p = await newProducer();
    const queues = await p.fetchPublishMessageQueues(topic);
    expect(queues).toHaveLength(8);
    const chosen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await p.sendOrderly({ topic, body: `o${i}` }, 'order-42');
      chosen.add(`${r.messageQueue.brokerName}/${r.messageQueue.queueId}`);
    }
    expect(chosen.size).toBe(1);
    const expected = selectMessageQueueByHash(queues, { topic, body: '' }, 'order-42')!;
    expect([...chosen][0]).toBe(`${expected.brokerName}/${expected.queueId}`);
    const r = await p.send({ topic, body: 'sel' }, { selector: (qs) => qs[qs.length - 1], arg: undefined });
    expect(r.messageQueue).toEqual(queues[queues.length - 1]);
  });

  it('sends to a topic that does not exist yet through the TBW102 route (broker auto-create)', async () => {
    const topic = topicName();
    expect(await cluster.route(topic)).toBeUndefined();
    const p = await newProducer();
    const r = await p.send({ topic, body: 'auto' });
    expect(r.status).toBe('SEND_OK');
    expect(r.messageQueue.queueId).toBeLessThan(4);
    await waitUntil(() => cluster.route(topic), 10_000, 'auto-created route');
  });

  it('moves the DELAY property onto the wire for delayLevel', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1, ['broker-a']);
    const p = await newProducer();
    const sentAt = Date.now();
    await p.send({ topic, body: 'later', delayLevel: 1 });
    const msgs = await waitUntil(async () => {
      const m = await pullQueue(p.clientInstance.api, cluster.brokers[0]!.addr, topic, 0);
      return m.length > 0 ? m : undefined;
    }, 10_000, 'delayed message');
    expect(msgs[0]!.body.toString()).toBe('later');
    expect(msgs[0]!.storeTimestamp - sentAt).toBeGreaterThanOrEqual(900);
  });

  it('uses the next NameServer when the first one in the list is down', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1);
    const p = await newProducer({ namesrvAddr: `127.0.0.1:1;${cluster.namesrvAddr}` });
    const r = await p.send({ topic, body: 'failover' });
    expect(r.status).toBe('SEND_OK');
    expect(p.clientInstance.namesrv.preferredAddress).toBe(cluster.namesrvAddr);
  });

  it('shares one client instance per clientId with reference counting', async () => {
    const a = await newProducer({ instanceName: 'shared-inst' });
    const b = await newProducer({ instanceName: 'shared-inst' });
    expect(a.clientInstance).toBe(b.clientInstance);
    expect(a.clientId).toBe('127.0.0.1@shared-inst');
    expect(a.clientInstance.producerGroups.sort()).toEqual([a.group, b.group].sort());
    const dup = new Producer({ namesrvAddr: cluster.namesrvAddr, group: a.group, clientIP: '127.0.0.1', instanceName: 'shared-inst' });
    await expect(dup.start()).rejects.toThrow(/already registered/);
    await a.shutdown();
    const topic = topicName();
    await cluster.createTopic(topic, 1);
    expect((await b.send({ topic, body: 'still-up' })).status).toBe('SEND_OK');
    expect(b.clientInstance.closed).toBe(false);
  });

  it('registers its group by heartbeat and calls the consumer hook on NOTIFY_CONSUMER_IDS_CHANGED', async () => {
    const topic = topicName();
    await cluster.createTopic(topic, 1, ['broker-a']);
    const group = `cg_${seq++}`;
    const p = await newProducer({ instanceName: 'hb-inst' });
    await p.send({ topic, body: 'x' });
    const instance = p.clientInstance;
    let notified = 0;
    const consumerData = () => ({
      groupName: group,
      consumeType: ConsumeType.PASSIVELY,
      messageModel: MessageModel.CLUSTERING,
      consumeFromWhere: ConsumeFromWhere.LAST_OFFSET,
      subscriptionDataSet: [buildSubscriptionData(topic, '*', 1), buildSubscriptionData(retryTopic(group), '*', 1)],
      unitMode: false,
    });
    expect(instance.registerConsumer({ group, consumerData, subscribedTopics: () => [topic], onConsumerIdsChanged: () => notified++ })).toBe(true);
    await instance.sendHeartbeatToAllBrokers();
    const broker = cluster.brokers[0]!.controller;
    expect(broker.producerManager.groupNames()).toContain(p.group);
    expect(await instance.findConsumerIdList(topic, group)).toEqual([instance.clientId]);
    // A second client joining the group makes the broker notify the first.
    const other = getOrCreateClientInstance({ namesrvAddr: cluster.namesrvAddr, clientIP: '127.0.0.1', instanceName: 'hb-other' });
    await other.start();
    other.registerConsumer({ group, consumerData, subscribedTopics: () => [topic] });
    await other.updateTopicRouteFromNameServer(topic);
    await other.sendHeartbeatToAllBrokers();
    await waitUntil(() => (notified > 0 ? true : undefined), 5000, 'notify');
    expect((await instance.findConsumerIdList(topic, group)).sort()).toEqual([instance.clientId, other.clientId].sort());
    await other.unregisterConsumer(group);
    await other.shutdown();
    expect(other.closed).toBe(true);
    await instance.unregisterConsumer(group);
  });

  it('retries on the other broker when one goes away, then avoids the failed broker', async () => {
    const local = await startTestCluster({ brokers: 2 });
    try {
      const topic = 'RetrySpec';
      await local.createTopic(topic, 2);
      const retries: RetryEvent[] = [];
      const sends: SendEvent[] = [];
      const instrumentation = new Instrumentation();
      instrumentation.on('retry', (e) => retries.push(e));
      instrumentation.on('send', (e) => sends.push(e));
      const p = new Producer({ namesrvAddr: local.namesrvAddr, group: 'pg-retry', clientIP: '127.0.0.1', instrumentation });
      await p.start();
      try {
        await p.send({ topic, body: 'warm' });
        await local.stopBroker('broker-b');
        const results = [];
        for (let i = 0; i < 6; i++) results.push(await p.send({ topic, body: `r${i}` }));
        const asyncResults = await Promise.all([0, 1, 2, 3].map((i) => p.sendAsync({ topic, body: `a${i}` })));
        for (const r of [...results, ...asyncResults]) {
          expect(r.status).toBe('SEND_OK');
          expect(r.messageQueue.brokerName).toBe('broker-a');
        }
        expect(retries.length).toBeGreaterThanOrEqual(1);
        expect(retries[0]!.brokerName).toBe('broker-b');
        expect(retries[0]!.error).toBeInstanceOf(MQClientError);
        // After the first failure broker-b is isolated: later sends go straight to broker-a.
        expect(retries.length).toBe(1);
        expect(sends.filter((s) => s.attempts > 1)).toHaveLength(1);
      } finally {
        await p.shutdown();
      }
    } finally {
      await local.stop();
    }
  });

  it('reports the last error once every attempt failed (onException after retries)', async () => {
    const local = await startTestCluster({ brokers: 1 });
    try {
      await local.createTopic('AllDown', 1);
      const p = new Producer({ namesrvAddr: local.namesrvAddr, group: 'pg-down', clientIP: '127.0.0.1', brokerIsolationMs: 0 });
      const retries: RetryEvent[] = [];
      p.instrumentation.on('retry', (e) => retries.push(e));
      await p.start();
      try {
        await p.send({ topic: 'AllDown', body: 'warm' });
        await local.stopBroker('broker-a');
        const err = await new Promise<Error>((resolve, reject) => {
          p.sendAsync({ topic: 'AllDown', body: 'x' }, { onSuccess: () => reject(new Error('unexpected success')), onException: resolve });
        });
        expect(err).toBeInstanceOf(MQClientError);
        expect((err as MQClientError).retriable).toBe(true);
        expect(retries).toHaveLength(2); // retryTimesWhenSendAsyncFailed = 2
      } finally {
        await p.shutdown();
      }
    } finally {
      await local.stop();
    }
  });

  it('refuses to send before start and after shutdown', async () => {
    const p = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'pg-state', clientIP: '127.0.0.1' });
    await expect(p.send({ topic: 'T', body: 'x' })).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    await p.start();
    await p.shutdown();
    await expect(p.send({ topic: 'T', body: 'x' })).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    expect(() => new Producer({ namesrvAddr: cluster.namesrvAddr, group: '' })).toThrow(/group/);
  });
});

describe('publishQueuesOf / selectMessageQueueByHash', () => {
  it('builds writable master queues sorted by broker, honouring orderTopicConf', () => {
    const route: TopicRouteData = {
      queueDatas: [
        { brokerName: 'b', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 },
        { brokerName: 'a', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 },
        { brokerName: 'c', readQueueNums: 1, writeQueueNums: 1, perm: 4, topicSysFlag: 0 },
        { brokerName: 'd', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 },
      ],
      brokerDatas: [
        { cluster: 'C', brokerName: 'a', brokerAddrs: { '0': 'h:1' } },
        { cluster: 'C', brokerName: 'b', brokerAddrs: { '0': 'h:2' } },
        { cluster: 'C', brokerName: 'c', brokerAddrs: { '0': 'h:3' } },
        { cluster: 'C', brokerName: 'd', brokerAddrs: { '1': 'h:4' } },
      ],
      filterServerTable: {},
    };
    const qs = publishQueuesOf('T', route).map((q: MessageQueue) => `${q.brokerName}${q.queueId}`);
    expect(qs).toEqual(['a0', 'b0', 'b1']);
    expect(publishQueuesOf('T', { ...route, orderTopicConf: 'x:2;y:1' }).map((q) => `${q.brokerName}${q.queueId}`)).toEqual(['x0', 'x1', 'y0']);
  });

  it('hashes like Java SelectMessageQueueByHash', () => {
    const queues = [0, 1, 2, 3].map((queueId) => ({ topic: 'T', brokerName: 'a', queueId }));
    // "abc".hashCode() = 96354 → 96354 % 4 = 2; "polygenelubricants".hashCode() is negative (-2147483648) → abs(0) = 0
    expect(selectMessageQueueByHash(queues, { topic: 'T', body: '' }, 'abc')!.queueId).toBe(2);
    expect(selectMessageQueueByHash(queues, { topic: 'T', body: '' }, 'polygenelubricants')!.queueId).toBe(0);
    expect(selectMessageQueueByHash(queues, { topic: 'T', body: '' }, 'order-7')!.queueId).toBe(selectMessageQueueByHash(queues, { topic: 'T', body: '' }, 'order-7')!.queueId);
  });
});
