/**
 * ali-ons 3.12 (unmodified, each client its own process) against `rocketry start` run as a separate
 * process: clustering, broadcasting, tag filtering, retry → %RETRY% → %DLQ%, query by key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAliOnsConsumer, startAliOnsProducer, type AliOnsConsumer, type ConsumedEvent } from '../helpers/ali-ons';
import { killAllChildren } from '../helpers/child-process';
import { sleep, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { runRocketryAdmin, startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, queuesOfTopic, SHORT_DELAY_LEVELS, waitForRoute } from '../helpers/topics';

/** ali-ons rebalances every 10 s; the first consumer only gives up queues on its next round. */
const REBALANCE_WAIT_MS = 35_000;

describe('ali-ons against rocketry start (separate process)', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;
  let ns: string;
  let broker: string;
  const run = Date.now().toString(36);
  const RETRY = { topic: `E2E_RETRY_${run}`, group: `GID_RETRY_${run}`, maxReconsumeTimes: 2, failKey: `rk-${run}-1` };
  let retryConsumer: AliOnsConsumer;

  beforeAll(async () => {
    dir = tempDir('e2e-ali-ons');
    rocketry = await startRocketryProcess({
      mode: 'start',
      dataDir: dir.path,
      settings: { messageDelayLevel: SHORT_DELAY_LEVELS },
      name: 'rocketry start (e2e)',
    });
    ns = rocketry.namesrvAddr!;
    broker = rocketry.brokerAddr!;
    probe = new ProtocolProbe();
    // The retry consumer starts now: ali-ons only learns the route of the %RETRY% topic its first heartbeat
    // creates on its next 30 s NameServer poll, which then overlaps the other tests instead of adding to them.
    await ensureTopic(probe, broker, [ns], RETRY.topic, 2);
    retryConsumer = startAliOnsConsumer(
      { nameSrv: ns, group: RETRY.group, topic: RETRY.topic, maxReconsumeTimes: RETRY.maxReconsumeTimes, failKeys: [RETRY.failKey] },
      'retry consumer',
    );
  });

  afterAll(async () => {
    probe?.close();
    try {
      if (rocketry) {
        const serious = rocketry.output().split('\n').filter((l) => /"level":(50|60)/.test(l));
        if (serious.length > 0) console.log(`[e2e] rocketry logged ${serious.length} error lines:\n${serious.slice(0, 20).join('\n')}`);
        const exit = await rocketry.stop(15_000);
        // SIGTERM must flush and exit 0.
        expect(exit.code, rocketry.output().slice(-3000)).toBe(0);
      }
    } finally {
      await killAllChildren();
      dir?.cleanup();
    }
  });

  async function stopAll(consumers: AliOnsConsumer[]): Promise<void> {
    await Promise.all(consumers.map((c) => c.stop()));
  }

  function byKey(msgs: ConsumedEvent[]): Map<string, ConsumedEvent[]> {
    const m = new Map<string, ConsumedEvent[]>();
    for (const e of msgs) {
      const list = m.get(e.keys) ?? [];
      list.push(e);
      m.set(e.keys, list);
    }
    return m;
  }

  it('clustering: two consumer processes share the queues and get every message exactly once; a tag subscriber gets only its tag; after one leaves the other takes over', async () => {
    const topic = `E2E_CLUSTER_${run}`;
    const group = `GID_CLUSTER_${run}`;
    const tagGroup = `GID_TAGA_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 4);

    const c1 = startAliOnsConsumer({ nameSrv: ns, group, topic }, 'cluster consumer 1');
    const c2 = startAliOnsConsumer({ nameSrv: ns, group, topic }, 'cluster consumer 2');
    const tagConsumer = startAliOnsConsumer({ nameSrv: ns, group: tagGroup, topic, subExpression: 'TagA' }, 'TagA consumer');
    try {
      await Promise.all([c1.ready(), c2.ready(), tagConsumer.ready()]);
      // Both ids known to the broker...
      await waitFor(
        'both consumers in GET_CONSUMER_LIST_BY_GROUP',
        async () => {
          const ids = await probe.consumerList(broker, group);
          return ids.includes(c1.clientId()!) && ids.includes(c2.clientId()!) && ids.length === 2 ? ids : undefined;
        },
        { timeoutMs: 20_000 },
      );
      // ...and both rebalanced: disjoint, complete, each non-empty.
      await waitFor(
        'a stable split of the 4 queues between the two consumers',
        () => {
          const a = queuesOfTopic(c1.assignment(), topic);
          const b = queuesOfTopic(c2.assignment(), topic);
          const overlap = a.filter((q) => b.includes(q));
          return a.length > 0 && b.length > 0 && overlap.length === 0 && a.length + b.length === 4;
        },
        { timeoutMs: REBALANCE_WAIT_MS, intervalMs: 250 },
      );
      await tagConsumer.waitAssignment((q) => queuesOfTopic(q, topic).length === 4, REBALANCE_WAIT_MS);

      const count = 40;
      const producer = startAliOnsProducer({ nameSrv: ns, topic, count, tags: ['TagA', 'TagB'], keyPrefix: `ck-${run}` }, 'cluster producer');
      const { sent } = await producer.finished(60_000);
      expect(sent).toHaveLength(count);
      for (const s of sent) {
        expect(s.sendStatus).toBe('SEND_OK');
        expect(s.msgId).toMatch(/^[0-9A-F]{32}$/);
      }
      const sentKeys = new Set(sent.map((s) => s.key));

      const all = () => [...c1.messages(), ...c2.messages()].filter((m) => m.reconsumeTimes === 0);
      await waitFor('every message consumed by the group', () => sentKeys.size === new Set(all().map((m) => m.keys)).size && all().length >= count, {
        timeoutMs: 30_000,
      });
      // Give duplicates a chance to show up before asserting exactly-once.
      await sleep(1500);
      const got = byKey([...c1.messages(), ...c2.messages()]);
      expect([...got.keys()].sort()).toEqual([...sentKeys].sort());
      for (const [key, list] of got) expect(list.length, `deliveries of ${key}`).toBe(1);
      expect(c1.messages().length).toBeGreaterThan(0);
      expect(c2.messages().length).toBeGreaterThan(0);
      // What arrived is what was sent: tags, bodies, ids; each consumer only sees its own queues.
      const sentByKey = new Map(sent.map((s) => [s.key, s]));
      for (const m of [...c1.messages(), ...c2.messages()]) {
        const s = sentByKey.get(m.keys)!;
        expect(m.tags).toBe(s.tags);
        expect(m.body).toBe(s.body);
        expect(m.msgId).toBe(s.msgId);
        expect(m.queueId).toBe(s.queueId);
        expect(m.topic).toBe(topic);
      }
      const queuesOf = (c: AliOnsConsumer) => new Set(c.messages().map((m) => m.queueId));
      for (const q of queuesOf(c1)) expect(queuesOf(c2).has(q)).toBe(false);

      // Tag filtering: TagA subscriber receives exactly the TagA half.
      const tagA = sent.filter((s) => s.tags === 'TagA').map((s) => s.key).sort();
      await tagConsumer.waitMessages((m) => new Set(m.map((x) => x.keys)).size >= tagA.length, 30_000, 'TagA messages');
      await sleep(500);
      expect(tagConsumer.messages().map((m) => m.keys).sort()).toEqual(tagA);
      expect(tagConsumer.messages().every((m) => m.tags === 'TagA')).toBe(true);

      // Membership change: consumer 2 leaves (close → UNREGISTER_CLIENT); consumer 1 takes over all queues
      // on its next rebalance, from consumer 2's committed offsets, so nothing sent afterwards is lost.
      expect((await c2.stop()).code).toBe(0);
      await waitFor('consumer 2 gone from GET_CONSUMER_LIST_BY_GROUP', async () => {
        const ids = await probe.consumerList(broker, group);
        return ids.length === 1 && ids[0] === c1.clientId() ? true : undefined;
      }, { timeoutMs: 10_000 });
      await c1.waitAssignment((q) => queuesOfTopic(q, topic).length === 4, REBALANCE_WAIT_MS);
      const later = await startAliOnsProducer({ nameSrv: ns, topic, count: 20, tags: ['TagB'], keyPrefix: `ck2-${run}` }, 'cluster producer 2').finished(60_000);
      const laterKeys = later.sent.map((x) => x.key);
      await c1.waitMessages((m) => laterKeys.every((k) => m.some((x) => x.keys === k)), 30_000, 'messages sent after consumer 2 left');
    } finally {
      await stopAll([c1, c2, tagConsumer]);
    }
    expect(c1.proc.exitInfo?.code).toBe(0);
    expect(c2.proc.exitInfo?.code).toBe(0);
  }, 150_000);

  it('broadcasting: each of two consumer processes receives every message', async () => {
    const topic = `E2E_BCAST_${run}`;
    const group = `GID_BCAST_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 4);
    const b1 = startAliOnsConsumer({ nameSrv: ns, group, topic, messageModel: 'BROADCASTING' }, 'broadcast consumer 1');
    const b2 = startAliOnsConsumer({ nameSrv: ns, group, topic, messageModel: 'BROADCASTING' }, 'broadcast consumer 2');
    try {
      await Promise.all([b1.ready(), b2.ready()]);
      await Promise.all([
        b1.waitAssignment((q) => queuesOfTopic(q, topic).length === 4, REBALANCE_WAIT_MS),
        b2.waitAssignment((q) => queuesOfTopic(q, topic).length === 4, REBALANCE_WAIT_MS),
      ]);
      const count = 20;
      const producer = startAliOnsProducer({ nameSrv: ns, topic, count, tags: ['TagB'], keyPrefix: `bk-${run}` }, 'broadcast producer');
      const { sent } = await producer.finished(60_000);
      const keys = sent.map((s) => s.key).sort();
      expect(keys).toHaveLength(count);
      for (const c of [b1, b2]) {
        await c.waitMessages((m) => new Set(m.map((x) => x.keys)).size >= count, 30_000, 'all broadcast messages');
      }
      await sleep(1000);
      for (const c of [b1, b2]) {
        expect(c.messages().map((m) => m.keys).sort()).toEqual(keys);
      }
    } finally {
      await stopAll([b1, b2]);
    }
  }, 120_000);

  it('a failing handler gets the message back through %RETRY% with rising reconsumeTimes, then it lands in %DLQ% where another consumer reads it', async () => {
    const { topic, group, maxReconsumeTimes, failKey } = RETRY;
    const retryTopic = `%RETRY%${group}`;
    const dlqTopic = `%DLQ%${group}`;
    const c = retryConsumer;
    let dlqConsumer: AliOnsConsumer | undefined;
    try {
      await c.ready();
      await c.waitAssignment((q) => queuesOfTopic(q, topic).length === 2, REBALANCE_WAIT_MS);
      // %RETRY%<group> is created by the broker on heartbeat and must reach the NameServer.
      await waitForRoute(probe, ns, retryTopic, () => true, 20_000);

      const producer = startAliOnsProducer({ nameSrv: ns, topic, count: 3, tags: ['TagR'], keyPrefix: `rk-${run}` }, 'retry producer');
      const { sent } = await producer.finished(60_000);
      const failed = sent.find((s) => s.key === failKey)!;
      expect(failed).toBeDefined();

      // Deliveries 0, 1, 2 of the failing message (each failing), the others exactly once.
      const attempts = await c.waitMessages(
        (m) => m.filter((x) => x.keys === failKey).length >= maxReconsumeTimes + 1,
        // ali-ons only sees the new %RETRY% route on its next 30 s NameServer poll.
        90_000,
        `${maxReconsumeTimes + 1} deliveries of ${failKey}`,
      );
      const tries = attempts.filter((x) => x.keys === failKey);
      expect(tries.map((x) => x.reconsumeTimes)).toEqual([0, 1, 2]);
      expect(tries[0]!.msgId).toBe(failed.msgId);
      for (const t of tries.slice(1)) {
        // Redelivered through the retry topic: ali-ons restores the topic from RETRY_TOPIC.
        expect(t.retryTopic).toBe(topic);
        expect(t.topic).toBe(topic);
        expect(t.originMessageId).toBe(failed.msgId);
        expect(t.body).toBe(failed.body);
        expect(t.msgId).not.toBe(failed.msgId);
      }
      for (const ok of sent.filter((s) => s.key !== failKey)) {
        expect(c.messages().filter((m) => m.keys === ok.key).map((m) => m.reconsumeTimes)).toEqual([0]);
      }

      // After the maximum it goes to %DLQ%<group>.
      await waitFor('DLQ message', async () => ((await probe.maxOffset(broker, dlqTopic, 0).catch(() => 0)) >= 1 ? true : undefined), {
        timeoutMs: 30_000,
      });
      const dlq = await probe.pullAll(broker, dlqTopic, 0);
      expect(dlq).toHaveLength(1);
      expect(dlq[0]!.properties.KEYS).toBe(failKey);
      expect(dlq[0]!.body.toString()).toBe(failed.body);
      expect(dlq[0]!.reconsumeTimes).toBe(maxReconsumeTimes + 1);
      expect(dlq[0]!.properties.ORIGIN_MESSAGE_ID).toBe(failed.msgId);
      expect(dlq[0]!.crcOk).toBe(true);
      // No more deliveries after the DLQ.
      await sleep(3000);
      expect(c.messages().filter((m) => m.keys === failKey)).toHaveLength(maxReconsumeTimes + 1);
      // The retry topic really carried the redeliveries.
      const retried = await probe.pullAll(broker, retryTopic, 0);
      expect(retried.filter((r) => r.properties.KEYS === failKey).map((r) => r.reconsumeTimes).sort()).toEqual([1, 2]);

      // Another ali-ons consumer (its own group) reads the DLQ.
      await waitForRoute(probe, ns, dlqTopic, () => true, 20_000);
      dlqConsumer = startAliOnsConsumer(
        { nameSrv: ns, group: `GID_DLQ_READER_${run}`, topic: dlqTopic, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' },
        'DLQ reader',
      );
      await dlqConsumer.ready();
      const fromDlq = await dlqConsumer.waitMessages((m) => m.length >= 1, REBALANCE_WAIT_MS, 'DLQ message');
      expect(fromDlq[0]!.keys).toBe(failKey);
      expect(fromDlq[0]!.body).toBe(failed.body);
      expect(fromDlq[0]!.topic).toBe(dlqTopic);
      if (process.env.ROCKETRY_E2E_TRACE) console.log(c.proc.stdout(), dlqConsumer.proc.stdout());
    } finally {
      await stopAll(dlqConsumer ? [c, dlqConsumer] : [c]);
    }
  }, 180_000);

  it('query by key finds a message (rocketry admin queryMsgByKey and raw QUERY_MESSAGE); admin updateTopic creates a usable topic', async () => {
    const topic = `E2E_QUERY_${run}`;
    const created = await runRocketryAdmin(['updateTopic', '-n', ns, '-b', broker, '-t', topic, '-r', '2', '-w', '2']);
    expect(created.code, `${created.stdout}\n${created.stderr}`).toBe(0);
    await waitForRoute(probe, ns, topic, (r) => r.queueDatas.some((q) => q.writeQueueNums === 2), 15_000);

    const producer = startAliOnsProducer({ nameSrv: ns, topic, count: 5, tags: ['TagQ'], keyPrefix: `qk-${run}` }, 'query producer');
    const { sent } = await producer.finished(60_000);
    const target = sent[3]!;

    const found = await waitFor('QUERY_MESSAGE hit', async () => {
      const r = await probe.queryByKey(broker, topic, target.key);
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 10_000 });
    expect(found).toHaveLength(1);
    expect(found[0]!.offsetMsgId).toBe(target.msgId);
    expect(found[0]!.body.toString()).toBe(target.body);
    expect(found[0]!.properties.TAGS).toBe('TagQ');
    expect(found[0]!.crcOk).toBe(true);
    expect(await probe.queryByKey(broker, topic, `no-such-key-${run}`)).toEqual([]);

    const admin = await runRocketryAdmin(['queryMsgByKey', '-n', ns, '-t', topic, '-k', target.key]);
    expect(admin.code, `${admin.stdout}\n${admin.stderr}`).toBe(0);
    expect(admin.stdout).toContain(target.msgId);
    expect(admin.stdout).not.toContain(sent[2]!.msgId);
  }, 90_000);
});
