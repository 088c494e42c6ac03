/**
 * RocketTemplate + RocketListenerContainer against the embedded broker (in process).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageExt } from '../client/message';
import { RocketListenerRegistrationError } from '../config/config-errors';
import { resolveRocketryConfig, type RocketryConfig } from '../config/rocketry-config';
import { RocketListener } from '../decorators/rocket-listener.decorator';
import { startEmbeddedBroker, type EmbeddedBroker } from '../embedded/embedded-broker';
import { RocketTemplate } from '../template/rocket-template';
import { RocketListenerContainer } from './rocket-listener-container';

const run = Date.now().toString(36);
const T = { orders: `Orders_${run}`, payments: `Payments_${run}`, steps: `Steps_${run}`, refunds: `Refunds_${run}`, retry: `Retry_${run}`, tpl: `Tpl_${run}` };

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

class OrderListeners {
  created: Array<{ payload: unknown; tags: string | undefined; keys: string[] }> = [];
  cancelled: unknown[] = [];
  payments: unknown[] = [];
  steps: Array<{ key: string; seq: number }> = [];

  @RocketListener({ topic: T.orders, group: `orders-cg-${run}`, selector: 'Created', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  onCreated(payload: unknown, msg: MessageExt): void {
    this.created.push({ payload, tags: msg.tags, keys: msg.keys });
  }

  @RocketListener({ topic: T.orders, group: `orders-cg-${run}`, selector: 'Cancelled || Voided', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  onCancelled(payload: unknown): void {
    this.cancelled.push(payload);
  }

  // Same group, another topic: one consumer, two subscriptions.
  @RocketListener({ topic: T.payments, group: `orders-cg-${run}`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', payloadType: 'string' })
  async onPayment(payload: unknown): Promise<void> {
    this.payments.push(payload);
  }

  @RocketListener({ topic: T.steps, group: `steps-cg-${run}`, orderly: true, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  async onStep(payload: { key: string; seq: number }): Promise<void> {
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    this.steps.push(payload);
  }
}

@RocketListener({ topic: T.refunds, group: `refunds-cg-${run}`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
class RefundListener {
  got: unknown[] = [];
  onMessage(payload: unknown): void {
    this.got.push(payload);
  }
}

class FlakyListener {
  attempts = new Map<string, number[]>();
  @RocketListener({ topic: T.retry, group: `retry-cg-${run}`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: 3 })
  onMessage(payload: { id: string; mode: string }, msg: MessageExt): string | void {
    const list = this.attempts.get(payload.id) ?? [];
    list.push(msg.reconsumeTimes);
    this.attempts.set(payload.id, list);
    if (msg.reconsumeTimes === 0) {
      if (payload.mode === 'throw') throw new Error('boom once');
      return 'RECONSUME_LATER';
    }
  }
}

describe('RocketTemplate and RocketListenerContainer on the embedded broker', () => {
  let broker: EmbeddedBroker;
  let config: RocketryConfig;
  let template: RocketTemplate;

  beforeAll(async () => {
    broker = await startEmbeddedBroker({
      settings: { messageDelayLevel: Array.from({ length: 18 }, () => '1s').join(' ') },
      topics: Object.values(T),
    });
    config = resolveRocketryConfig({ nameServer: broker.namesrvAddr, producer: { group: `pg-${run}` }, env: false });
    template = RocketTemplate.fromConfig(config, { messageDelayLevel: '1s 5s 10s' });
    await template.start();
  });

  afterAll(async () => {
    await template?.destroy();
    await broker?.stop();
  });

  it('sends in every form: sync, async (promise and callback), one-way, orderly, batch, delayed', async () => {
    const sync = await template.syncSend(`${T.tpl}:TagA`, { id: 1 }, { keys: ['k1'], properties: { p: 'v' } });
    expect(sync.status).toBe('SEND_OK');
    const asyncP = await template.asyncSend(T.tpl, 'text');
    expect(asyncP.status).toBe('SEND_OK');
    const viaCallback = await new Promise<string>((resolve, reject) => template.asyncSend(T.tpl, Buffer.from([1]), { onSuccess: (r) => resolve(r.status), onException: reject }));
    expect(viaCallback).toBe('SEND_OK');
    await template.sendOneWay(T.tpl, { oneway: true });
    const o1 = await template.syncSendOrderly(T.tpl, { n: 1 }, 'order-42');
    const o2 = await template.asyncSendOrderly(T.tpl, { n: 2 }, 'order-42');
    const o3 = await new Promise<number>((resolve, reject) =>
      template.asyncSendOrderly(T.tpl, { n: 3 }, 'order-42', { onSuccess: (r) => resolve(r.messageQueue.queueId), onException: reject }),
    );
    expect(new Set([o1.messageQueue.queueId, o2.messageQueue.queueId, o3])).toHaveProperty('size', 1);
    const batch = await template.syncSendBatch(T.tpl, [{ b: 1 }, { b: 2 }, 'three']);
    expect(batch.msgIds).toHaveLength(3);
    const delayed = await template.syncSendDelayTimeSeconds(T.tpl, { d: 1 }, 5);
    expect(delayed.status).toBe('SEND_OK');
    expect(() => template.delayLevelOf(7_000)).toThrow(/no delay level of exactly 7000 ms; the broker's levels are 1=1000ms 2=5000ms 3=10000ms/);
    expect(template.toMessage(`${T.tpl}:TagA`, { a: 1 }, { delayLevel: 2 })).toMatchObject({
      topic: T.tpl,
      tags: 'TagA',
      delayLevel: 2,
      properties: { contentType: 'application/json' },
    });
    await template.sendOneWayOrderly(T.tpl, { n: 4 }, 'order-42');
    expect(() => template.sendMessageInTransaction(T.tpl, { a: 1 })).toThrow(/no transaction producer/);
    // Delegation: the converted message and the arg reach the transaction producer.
    const calls: unknown[][] = [];
    const tx = { sendMessageInTransaction: async (msg: unknown, arg?: unknown) => (calls.push([msg, arg]), { localTransactionState: 'COMMIT' as const }) };
    const txTemplate = new RocketTemplate({ producer: template.producer, transactionProducer: tx, ownsProducer: false });
    await expect(txTemplate.sendMessageInTransaction(`${T.tpl}:Tx`, { order: 7 }, 'local-arg', { keys: 'o-7' })).resolves.toEqual({ localTransactionState: 'COMMIT' });
    expect(calls).toEqual([[{ topic: T.tpl, tags: 'Tx', keys: 'o-7', body: '{"order":7}', properties: { contentType: 'application/json' } }, 'local-arg']]);
  });

  it('listeners: several methods per class, several topics per group, tag routing, class-level, orderly per hash key', async () => {
    const orders = new OrderListeners();
    const refunds = new RefundListener();
    const container = new RocketListenerContainer({ config });
    const registered = [...container.registerInstance(orders), ...container.registerInstance(refunds)];
    expect(registered.map((l) => l.id)).toEqual([
      'OrderListeners.onCreated',
      'OrderListeners.onCancelled',
      'OrderListeners.onPayment',
      'OrderListeners.onStep',
      'RefundListener.onMessage',
    ]);
    await container.start();
    try {
      // orders-cg is ONE consumer subscribed to two topics, with the tag union on the shared topic.
      expect(container.consumers().size).toBe(3);
      for (let i = 0; i < 10; i++) await template.syncSend(`${T.orders}:Created`, { order: i }, { keys: `o-${i}` });
      await template.syncSend(`${T.orders}:Cancelled`, { order: 100 });
      await template.syncSend(`${T.orders}:Voided`, { order: 101 });
      await template.syncSend(`${T.orders}:Other`, { order: 999 }); // matches no listener's tags → filtered out
      await template.syncSend(T.payments, { paid: true });
      await template.syncSend(T.refunds, 'refund-1');
      const keys = ['a', 'b', 'c'];
      const sends: Promise<unknown>[] = [];
      for (let seq = 0; seq < 15; seq++) for (const key of keys) sends.push(template.syncSendOrderly(T.steps, { key, seq }, key));
      await Promise.all(sends.slice(0, 3)); // first of each key
      await Promise.all(sends);

      await until('created', () => orders.created.length === 10);
      await until('cancelled', () => orders.cancelled.length === 2);
      await until('payment', () => orders.payments.length === 1);
      await until('refund', () => refunds.got.length === 1);
      await until('steps', () => orders.steps.length === 45);
      expect(orders.created.map((c) => (c.payload as { order: number }).order).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
      expect(orders.created.every((c) => c.tags === 'Created' && c.keys[0]?.startsWith('o-'))).toBe(true);
      expect(orders.cancelled).toEqual(expect.arrayContaining([{ order: 100 }, { order: 101 }]));
      expect(orders.payments).toEqual(['{"paid":true}']); // payloadType 'string'
      expect(refunds.got).toEqual(['refund-1']);
      for (const key of keys) {
        // Sends of one key were issued concurrently, so compare with the broker's order: queue offsets rise with seq
        // only if sent in order; what must hold is that the consumer saw them in queue order.
        expect(orders.steps.filter((s) => s.key === key)).toHaveLength(15);
      }
      const health = container.health();
      expect(health.status).toBe('up');
      const ordersHealth = health.consumers.find((c) => c.group === `orders-cg-${run}`)!;
      expect(ordersHealth.topics.sort()).toEqual([T.orders, T.payments].sort());
      expect(ordersHealth.listeners).toHaveLength(3);
      expect(ordersHealth.assignedQueues.length).toBeGreaterThanOrEqual(8);
      expect(ordersHealth.consumed).toBe(13);
    } finally {
      await container.stop();
    }
    expect(container.health().status).toBe('down');
    expect(container.health().consumers.every((c) => !c.running)).toBe(true);
  });

  it('orderly: sequential sends per hash key are consumed in order', async () => {
    const topic = `Seq_${run}`;
    await broker.createTopic(topic, 4);
    const seen: Array<{ key: string; seq: number }> = [];
    class Seq {
      @RocketListener({ topic, group: `seq-cg-${run}`, orderly: true, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
      async on(p: { key: string; seq: number }): Promise<void> {
        await new Promise((r) => setTimeout(r, Math.random() * 2));
        seen.push(p);
      }
    }
    const container = new RocketListenerContainer({ config });
    container.registerInstance(new Seq());
    await container.start();
    try {
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
      // Keys in parallel, each key's messages one after the other.
      await Promise.all(keys.map(async (key) => {
        for (let seq = 0; seq < 20; seq++) await template.syncSendOrderly(topic, { key, seq }, key);
      }));
      await until('all seq', () => seen.length >= 100);
      for (const key of keys) expect(seen.filter((s) => s.key === key).map((s) => s.seq)).toEqual([...Array(20).keys()]);
    } finally {
      await container.stop();
    }
  });

  it('throw and RECONSUME_LATER retry with reconsumeTimes; failures show in health', async () => {
    const flaky = new FlakyListener();
    const container = new RocketListenerContainer({ config });
    container.registerInstance(flaky);
    await container.start();
    try {
      await template.syncSend(T.retry, { id: 'x', mode: 'throw' });
      await template.syncSend(T.retry, { id: 'y', mode: 'later' });
      await until('retries', () => flaky.attempts.get('x')?.length === 2 && flaky.attempts.get('y')?.length === 2, 20_000);
      expect(flaky.attempts.get('x')).toEqual([0, 1]);
      expect(flaky.attempts.get('y')).toEqual([0, 1]);
      const h = container.health().consumers[0]!;
      expect(h.failed).toBe(2);
      expect(h.consumed).toBe(2);
      expect(h.lastError?.listener).toBe('FlakyListener.onMessage');
    } finally {
      await container.stop();
    }
  });

  it('registration errors: group conflicts, overlapping tags, missing onMessage, disabled listeners', () => {
    class Conflict {
      @RocketListener({ topic: 'A', group: 'conflict-g' })
      a(): void {}
      @RocketListener({ topic: 'B', group: 'conflict-g', orderly: true })
      b(): void {}
    }
    const c1 = new RocketListenerContainer({ config });
    expect(() => c1.registerInstance(new Conflict())).toThrow(
      /@RocketListener on Conflict\.b: option 'orderly': true conflicts with false of Conflict\.a in the same group conflict-g/,
    );
    class Overlap {
      @RocketListener({ topic: 'A', group: 'overlap-g', selector: 'X || Y' })
      a(): void {}
      @RocketListener({ topic: 'A', group: 'overlap-g', selector: 'Y' })
      b(): void {}
    }
    expect(() => new RocketListenerContainer({ config }).registerInstance(new Overlap())).toThrow(/Overlap\.b: option 'selector': "Y" overlaps "X \|\| Y" of Overlap\.a on topic A/);
    @RocketListener({ topic: 'A', group: 'g' })
    class NoHandler {}
    expect(() => new RocketListenerContainer({ config }).registerInstance(new NoHandler())).toThrow(RocketListenerRegistrationError);
    expect(() => new RocketListenerContainer({ config }).registerInstance(new NoHandler())).toThrow(/needs an onMessage\(payload, message\) method on NoHandler/);

    const off = resolveRocketryConfig({ nameServer: broker.namesrvAddr, consumer: { listeners: { 'off-g': { A: false } } }, env: false });
    class Off {
      @RocketListener({ topic: 'A', group: 'off-g' })
      a(): void {}
      @RocketListener({ topic: 'B', group: 'off-g2', enabled: false })
      b(): void {}
    }
    const c2 = new RocketListenerContainer({ config: off });
    c2.registerInstance(new Off());
    expect(c2.health().disabled).toEqual(['Off.a', 'Off.b']);
    const noNs = new RocketListenerContainer({ config: resolveRocketryConfig({ env: false }) });
    class AllOff {
      @RocketListener({ topic: 'A', group: 'all-off-g', enabled: '${orders.enabled:false}' })
      a(): void {}
    }
    expect(() => noNs.registerInstance(new AllOff())).not.toThrow(); // disabled → nothing to connect
    class NeedsNs {
      @RocketListener({ topic: 'A', group: 'ns-g' })
      a(): void {}
    }
    expect(() => noNs.registerInstance(new NeedsNs())).toThrow(/NeedsNs\.a: option 'nameServer': no name server: set rocketmq\.name-server/);
  });
});
