/**
 * Dead letters end to end on the embedded broker: a listener that gives up sends the message to
 * `%DLQ%<group>` with its failure reason (ROCKETRY_DLQ_REASON), its `onDeadLetter` hook runs, a
 * `@DlqListener` receives the converted payload and the reason, and `createDlqAdmin` lists, inspects,
 * replays (same UNIQ_KEY, back on the original topic) and purges.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDlqAdmin,
  deadLetterInfo,
  DlqListener,
  resolveRocketryConfig,
  RocketListener,
  RocketListenerContainer,
  RocketTemplate,
  startEmbeddedBroker,
  type DeadLetterInfo,
  type DeadLetterReason,
  type EmbeddedBroker,
  type MessageExt,
  type RocketryConfig,
} from '@rocketry/framework';

const run = `${process.pid}_${Date.now().toString(36)}`;
const TOPIC = `DlqOrders_${run}`;
const GROUP = `dlq-cg-${run}`;
const ORDERLY_TOPIC = `DlqSteps_${run}`;
const ORDERLY_GROUP = `dlq-orderly-cg-${run}`;

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Order {
  id: string;
}

class OrderListener {
  healed = new Set<string>();
  ok: Array<{ id: string; msgId: string; topic: string }> = [];
  attempts = new Map<string, number>();
  dead: Array<{ msg: MessageExt; reason: DeadLetterReason; self: boolean }> = [];

  @RocketListener({ topic: TOPIC, group: GROUP, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: 1, onDeadLetter: 'onDead' })
  onOrder(order: Order, msg: MessageExt): void {
    this.attempts.set(order.id, (this.attempts.get(order.id) ?? 0) + 1);
    if (order.id.startsWith('bad') && !this.healed.has(order.id)) throw new Error(`stock service refused ${order.id}`);
    this.ok.push({ id: order.id, msgId: msg.msgId, topic: msg.topic });
  }

  onDead(msg: MessageExt, reason: DeadLetterReason): void {
    this.dead.push({ msg, reason, self: this instanceof OrderListener });
  }
}

class DeadLetters {
  got: Array<{ payload: Order; info: DeadLetterInfo; msgId: string }> = [];

  @DlqListener({ group: GROUP })
  onMessage(payload: Order, msg: MessageExt): void {
    this.got.push({ payload, info: deadLetterInfo(msg), msgId: msg.msgId });
  }
}

class StepListener {
  dead: Array<{ id: string; reason: DeadLetterReason }> = [];
  seen: string[] = [];

  @RocketListener({
    topic: ORDERLY_TOPIC,
    group: ORDERLY_GROUP,
    orderly: true,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    maxReconsumeTimes: 2,
    suspendCurrentQueueTimeMillis: 10,
    onDeadLetter(this: StepListener, msg: MessageExt, reason: DeadLetterReason) {
      this.dead.push({ id: msg.keys[0] ?? '', reason });
    },
  })
  onStep(step: Order): string | void {
    this.seen.push(step.id);
    if (step.id === 'poison') return 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
  }
}

describe('dead letters: hook, reason, @DlqListener, admin API', () => {
  let broker: EmbeddedBroker;
  let config: RocketryConfig;
  let template: RocketTemplate;
  let container: RocketListenerContainer;
  const orders = new OrderListener();
  const deadLetters = new DeadLetters();
  const steps = new StepListener();

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ settings: { messageDelayLevel: Array.from({ length: 18 }, () => '1s').join(' ') }, topics: [TOPIC, ORDERLY_TOPIC] });
    config = resolveRocketryConfig({ nameServer: broker.namesrvAddr, producer: { group: `dlq-pg-${run}` }, env: false });
    template = RocketTemplate.fromConfig(config);
    await template.start();
    // Short route polling and rebalance so the @DlqListener sees %DLQ% as soon as the first dead letter creates it.
    container = new RocketListenerContainer({ config, consumerOptions: { pollNameServerIntervalMs: 300, rebalanceIntervalMs: 300 } });
    container.registerInstance(orders);
    container.registerInstance(deadLetters);
    container.registerInstance(steps);
    await container.start();
  });

  afterAll(async () => {
    await container?.stop({ awaitTerminationMs: 1_000 });
    await template?.destroy();
    await broker?.stop();
  });

  it('a listener that gives up dead-letters with the reason; the hook and @DlqListener see it', async () => {
    const sent = new Map<string, string>();
    for (const id of ['bad-1', 'good-1', 'bad-2']) sent.set(id, (await template.syncSend(TOPIC, { id }, { keys: [id] })).msgId);

    await until('two dead letters through the hook', () => orders.dead.length === 2);
    const byId = new Map(orders.dead.map((d) => [d.msg.keys[0], d]));
    const d1 = byId.get('bad-1')!;
    expect(d1.self).toBe(true);
    expect(d1.reason).toMatchObject({ message: 'stock service refused bad-1', listener: expect.stringMatching(/OrderListener\.onOrder$/), group: GROUP, reconsumeTimes: 1, path: 'reason-recorded' });
    expect(d1.reason.error).toBeInstanceOf(Error);
    // maxReconsumeTimes 1: the first delivery and one retry, then the DLQ.
    expect(orders.attempts.get('bad-1')).toBe(2);
    expect(orders.ok.map((o) => o.id)).toEqual(['good-1']);
    expect(container.health().consumers.find((c) => c.group === GROUP)).toMatchObject({ deadLetters: 2 });

    await until('@DlqListener got both', () => deadLetters.got.length === 2);
    const got = new Map(deadLetters.got.map((g) => [g.payload.id, g]));
    expect(got.get('bad-2')).toMatchObject({
      payload: { id: 'bad-2' },
      msgId: sent.get('bad-2'),
      info: { originalTopic: TOPIC, reason: 'stock service refused bad-2', listener: expect.stringMatching(/OrderListener\.onOrder$/) },
    });
    expect(got.get('bad-2')!.info.deadAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it('orderly: after maxReconsumeTimes the message goes to the DLQ with the hook called, and the queue moves on', async () => {
    await template.syncSendOrderly(ORDERLY_TOPIC, { id: 'poison' }, 'k', { keys: ['poison'] });
    await template.syncSendOrderly(ORDERLY_TOPIC, { id: 'after' }, 'k', { keys: ['after'] });
    await until('orderly dead letter', () => steps.dead.length === 1 && steps.seen.includes('after'));
    expect(steps.dead[0]).toMatchObject({ id: 'poison', reason: { message: 'returned SUSPEND_CURRENT_QUEUE_A_MOMENT', reconsumeTimes: 2 } });
    // 3 consumptions (0, 1, 2 reconsumes), then 'after' — order kept.
    expect(steps.seen).toEqual(['poison', 'poison', 'poison', 'after']);
  });

  it('recordDeadLetterReason: false → plain send-back: still in the DLQ and the hook runs (path send-back), no reason on the message', async () => {
    const topic = `DlqPlain_${run}`;
    const group = `dlq-plain-cg-${run}`;
    await broker.createTopic(topic, 2);
    const hooked: DeadLetterReason[] = [];
    class Plain {
      @RocketListener({ topic, group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', delayLevelWhenNextConsume: -1, onDeadLetter: (_m: MessageExt, r: DeadLetterReason) => hooked.push(r) })
      onMessage(): void {
        throw new Error('always');
      }
    }
    const c = new RocketListenerContainer({ config, recordDeadLetterReason: false });
    c.registerInstance(new Plain());
    await c.start();
    const admin = createDlqAdmin({ namesrvAddr: broker.namesrvAddr });
    try {
      const { msgId } = await template.syncSend(topic, { id: 'plain' });
      await until('hook via send-back', () => hooked.length === 1);
      // delayLevelWhenNextConsume -1: straight to the DLQ on the first failure.
      expect(hooked[0]).toMatchObject({ message: 'always', path: 'send-back', reconsumeTimes: 0 });
      const letter = await until('in the DLQ', async () => (await admin.list({ group }))[0]?.messages[0]);
      expect(letter).toMatchObject({ msgId, originalTopic: topic, reason: undefined });
      expect(c.health().consumers[0]!.deadLetters).toBe(1);
    } finally {
      admin.close();
      await c.stop({ awaitTerminationMs: 500 });
    }
  });

  it('createDlqAdmin: list, inspect with the reason, replay to the original topic, purge', async () => {
    const admin = createDlqAdmin({ namesrvAddr: broker.namesrvAddr });
    try {
      expect(await admin.groups()).toEqual(expect.arrayContaining([GROUP, ORDERLY_GROUP]));
      const [summary] = await admin.list({ group: GROUP });
      expect(summary!.count).toBe(2);
      expect(summary!.topic).toBe(`%DLQ%${GROUP}`);
      const m = summary!.messages.find((x) => x.keys[0] === 'bad-1')!;
      expect(m).toMatchObject({ originalTopic: TOPIC, reconsumeTimes: 2, reason: 'stock service refused bad-1', listener: expect.stringMatching(/OrderListener\.onOrder$/), keys: ['bad-1'] });
      expect(m.queueOffset).toBeGreaterThanOrEqual(0);
      expect(JSON.parse(m.body.toString('utf8'))).toEqual({ id: 'bad-1' });

      const inspected = await admin.inspect(GROUP, m.msgId);
      expect(inspected.reason).toBe('stock service refused bad-1');
      expect((await admin.inspect(GROUP, m.offsetMsgId)).msgId).toBe(m.msgId);
      await expect(admin.inspect(GROUP, 'NOPE')).rejects.toThrow(/is not in %DLQ%/);

      // Fixed downstream: replay one message; it arrives on the original topic with its original msgId.
      orders.healed.add('bad-1');
      const replay = await admin.replay(GROUP, { msgId: m.msgId });
      expect(replay).toMatchObject({ replayed: 1, failed: 0, purged: 0 });
      await until('replayed message consumed', () => orders.ok.find((o) => o.id === 'bad-1'));
      expect(orders.ok.find((o) => o.id === 'bad-1')).toEqual({ id: 'bad-1', msgId: m.msgId, topic: TOPIC });
      expect((await admin.list({ group: GROUP }))[0]!.count).toBe(2); // replay does not remove

      const purge = await admin.purge(GROUP);
      expect(purge.purged).toBe(2);
      const after = await admin.list({ group: GROUP });
      expect(after[0]).toMatchObject({ count: 0, messages: [] });
      await expect(admin.inspect(GROUP, m.msgId)).rejects.toThrow(/purged/);
      expect((await admin.purge(GROUP)).purged).toBe(0);
    } finally {
      admin.close();
    }
  });
});
