/**
 * PushConsumer against an in-process NameServer and two brokers: rebalance on
 * NOTIFY_CONSUMER_IDS_CHANGED (the periodic rebalance is set far out), queues from both brokers,
 * send-back to the broker a message came from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageQueueKey } from '@rocketry/broker/protocol';
import { startTestCluster, waitUntil, type TestCluster } from '../cluster.test-support';
import { Producer } from '../producer/producer';
import { PushConsumer, type PushConsumerOptions } from './push-consumer';

describe('PushConsumer (in-process cluster, two brokers)', () => {
  let cluster: TestCluster;
  let producer: Producer;
  const consumers: PushConsumer[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster({ brokers: 2, broker: { messageDelayLevel: Array.from({ length: 18 }, () => '1s').join(' ') } });
    producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'PG_SPEC' });
    await producer.start();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.shutdown({ awaitTerminationMs: 0 })));
    await producer?.shutdown();
    await cluster?.stop();
  });

  function consumer(opts: Omit<PushConsumerOptions, 'namesrvAddr'>): PushConsumer {
    // Periodic rebalance far out: membership changes must arrive through NOTIFY_CONSUMER_IDS_CHANGED.
    const c = new PushConsumer({ namesrvAddr: cluster.namesrvAddr, rebalanceIntervalMs: 600_000, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...opts });
    consumers.push(c);
    return c;
  }

  it('two members split the queues of both brokers; when one leaves, the other takes them all', async () => {
    const topic = 'SPEC_REBALANCE';
    await cluster.createTopic(topic, 4);
    const got = new Map<string, string[]>([
      ['c1', []],
      ['c2', []],
    ]);
    const rebalances: string[] = [];
    const make = (name: string) => {
      const c = consumer({ group: 'G_REBALANCE', instanceName: name });
      c.subscribe(topic, '*').onMessage((m) => void got.get(name)!.push(m.keys[0]!));
      c.on('rebalance', (e) => {
        if (e.topic === topic) rebalances.push(`${name}:${e.queues.length}/${e.consumerCount}`);
      });
      return c;
    };
    const c1 = make('c1');
    const c2 = make('c2');
    await c1.start();
    await c2.start();
    const mine = (c: PushConsumer) => c.assignedQueues().filter((q) => q.topic === topic);
    await waitUntil(() => mine(c1).length === 4 && mine(c2).length === 4, 10_000, 'a 4/4 split');
    const keys1 = new Set(mine(c1).map(messageQueueKey));
    expect(mine(c2).some((q) => keys1.has(messageQueueKey(q)))).toBe(false);
    expect(new Set([...mine(c1), ...mine(c2)].map((q) => q.brokerName))).toEqual(new Set(['broker-a', 'broker-b']));

    for (let i = 0; i < 40; i++) await producer.send({ topic, keys: [`r-${i}`], body: 'x' });
    await waitUntil(() => got.get('c1')!.length + got.get('c2')!.length >= 40, 10_000, '40 messages');
    expect(got.get('c1')!.length).toBeGreaterThan(0);
    expect(got.get('c2')!.length).toBeGreaterThan(0);
    expect(new Set([...got.get('c1')!, ...got.get('c2')!]).size).toBe(40);

    await c2.shutdown();
    await waitUntil(() => mine(c1).length === 8, 10_000, 'c1 owning all 8 queues');
    expect(rebalances).toContain('c1:8/1');
    for (let i = 40; i < 50; i++) await producer.send({ topic, keys: [`r-${i}`], body: 'x' });
    await waitUntil(() => got.get('c1')!.filter((k) => Number(k.slice(2)) >= 40).length >= 10, 10_000, 'c1 got the rest');
  });

  it('a failed message is sent back to the broker it came from and returns with reconsumeTimes 1', async () => {
    const topic = 'SPEC_SENDBACK';
    await cluster.createTopic(topic, 2);
    const seen: Array<[string, string | undefined, number]> = [];
    const c = consumer({ group: 'G_SENDBACK', rebalanceIntervalMs: 500 });
    c.subscribe(topic, '*').onMessage((m) => {
      seen.push([m.keys[0]!, m.brokerName, m.reconsumeTimes]);
      if (m.reconsumeTimes === 0) throw new Error('first time fails');
    });
    await c.start();
    for (let i = 0; i < 4; i++) await producer.send({ topic, keys: [`s-${i}`], body: 'x' });
    await waitUntil(() => seen.filter(([, , r]) => r === 1).length >= 4, 20_000, 'four retries');
    const first = new Map(seen.filter(([, , r]) => r === 0).map(([k, b]) => [k, b]));
    expect(new Set(first.values())).toEqual(new Set(['broker-a', 'broker-b']));
    // Each retry comes back through the %RETRY% queue of the broker the original was stored on.
    for (const [k, b, r] of seen) if (r === 1) expect(b, k).toBe(first.get(k));
  });

  it('subscribe() while running adds the topic; consume events carry timings; tags are filtered on the client too', async () => {
    await cluster.createTopic('SPEC_SUB_A', 1);
    await cluster.createTopic('SPEC_SUB_B', 1);
    const got: string[] = [];
    const consumed: number[] = [];
    const c = consumer({ group: 'G_SUB' });
    c.on('consume', (e) => consumed.push(e.elapsedMs));
    c.subscribe('SPEC_SUB_A', 'TagA').onMessage((m) => void got.push(`${m.topic}/${m.tags}/${m.keys[0]}`));
    await c.start();
    await producer.send({ topic: 'SPEC_SUB_A', tags: 'TagA', keys: ['a1'], body: 'x' });
    await producer.send({ topic: 'SPEC_SUB_A', tags: 'TagB', keys: ['a2'], body: 'x' });
    await waitUntil(() => got.length >= 1, 10_000, 'TagA message');
    c.subscribe('SPEC_SUB_B', '*');
    await producer.send({ topic: 'SPEC_SUB_B', keys: ['b1'], body: 'x' });
    await waitUntil(() => got.length >= 2, 10_000, 'message of the new subscription');
    expect(got).toEqual(['SPEC_SUB_A/TagA/a1', 'SPEC_SUB_B/undefined/b1']);
    expect(consumed.length).toBe(2);
    expect(consumed.every((ms) => ms >= 0)).toBe(true);
  });
});
