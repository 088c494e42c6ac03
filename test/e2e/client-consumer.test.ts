/**
 * Our PushConsumer against `rocketry start` run as a separate process: orderly consumers in separate
 * processes (one joining, one SIGKILLed), the committed offset never passing a slow message, retry →
 * DLQ with the three failure forms, broadcasting with local offsets, consumeFromWhere, and ali-ons
 * producer → our consumer.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushConsumer, type PushConsumerOptions } from '../../framework/src/client/consumer/push-consumer';
import type { MessageExt } from '../../framework/src/client/message';
import { Producer } from '../../framework/src/client/producer/producer';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { startAliOnsProducer } from '../helpers/ali-ons';
import { jsonLines, killAllChildren, spawnNode, type ManagedChild } from '../helpers/child-process';
import { freePort, REPO_ROOT, sleep, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, SHORT_DELAY_LEVELS } from '../helpers/topics';

const SCRIPT = path.join(REPO_ROOT, 'test', 'e2e', 'client-scripts', 'push-consumer.ts');
/** Broker lock lease in this suite (default 60 s) so a SIGKILLed orderly consumer's queues move on quickly. */
const BROKER_LOCK_LEASE_MS = 6_000;

interface ConsumerEvent {
  event: string;
  key: string | null;
  queueId: number;
  queueOffset: number;
  reconsumeTimes: number;
  topic: string;
  t: number;
  inFlight?: number;
  clientId?: string;
}

interface ChildConsumer {
  proc: ManagedChild;
  name: string;
  events(): ConsumerEvent[];
  done(): ConsumerEvent[];
  ready(): Promise<void>;
}

function startChildConsumer(cfg: Record<string, unknown>, name: string): ChildConsumer {
  const proc = spawnNode(['--import', 'tsx', SCRIPT, JSON.stringify(cfg)], { name });
  const events = () => jsonLines<ConsumerEvent>(proc.lines());
  return {
    proc,
    name,
    events,
    done: () => events().filter((e) => e.event === 'done'),
    async ready() {
      const line = await proc.waitForLine((l) => l.includes('"event":"ready"') || l.includes('"event":"fatal"'), 30_000);
      if (line.includes('"fatal"')) throw new Error(`${name} failed to start: ${line}\n${proc.output().slice(-3000)}`);
    },
  };
}

describe('PushConsumer against rocketry start (separate process)', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;
  let producer: Producer;
  let ns: string;
  let broker: string;
  const run = Date.now().toString(36);
  const inProcess: PushConsumer[] = [];

  beforeAll(async () => {
    dir = tempDir('e2e-client-consumer');
    rocketry = await startRocketryProcess({
      mode: 'start',
      dataDir: dir.path,
      settings: { messageDelayLevel: SHORT_DELAY_LEVELS, rebalanceLockMaxLiveTime: BROKER_LOCK_LEASE_MS },
      name: 'rocketry start (client-consumer e2e)',
    });
    ns = rocketry.namesrvAddr!;
    broker = rocketry.brokerAddr!;
    probe = new ProtocolProbe();
    producer = new Producer({ namesrvAddr: ns, group: `PG_CONSUMER_E2E_${run}` });
    await producer.start();
  });

  afterAll(async () => {
    await Promise.all(inProcess.map((c) => c.shutdown({ awaitTerminationMs: 0 }).catch(() => undefined)));
    await producer?.shutdown().catch(() => undefined);
    probe?.close();
    try {
      if (rocketry) await rocketry.stop(15_000);
    } finally {
      await killAllChildren();
      dir?.cleanup();
    }
  });

  function consumer(opts: Omit<PushConsumerOptions, 'namesrvAddr'>): PushConsumer {
    const c = new PushConsumer({ namesrvAddr: ns, rebalanceIntervalMs: 1_000, persistConsumerOffsetIntervalMs: 500, ...opts });
    inProcess.push(c);
    return c;
  }

  async function committedOffset(group: string, topic: string, queueId: number): Promise<number | undefined> {
    const res = await probe.request(broker, RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId, setZeroIfNotFound: false });
    return res.code === ResponseCode.SUCCESS ? Number(res.extFields.offset) : undefined;
  }

  it('orderly: three consumer processes, one joining and one SIGKILLed mid-stream; per key in order, nothing lost', async () => {
    const topic = `E2E_ORDERLY_${run}`;
    const group = `CG_ORDERLY_${run}`;
    const route = await ensureTopic(probe, broker, [ns], topic, 8);
    const brokerName = route.queueDatas[0]!.brokerName;
    const cfg = {
      namesrvAddr: ns,
      group,
      topic,
      orderly: true,
      handlerDelayMs: 2,
      rebalanceIntervalMs: 2_000,
      lockRenewIntervalMs: 1_500,
      // Below the broker lease: a consumer stops consuming before another one can take its lock.
      lockMaxLiveTimeMs: BROKER_LOCK_LEASE_MS - 2_000,
      persistConsumerOffsetIntervalMs: 500,
    };
    const a = startChildConsumer({ ...cfg, instanceName: 'orderly-a' }, 'orderly A');
    const b = startChildConsumer({ ...cfg, instanceName: 'orderly-b' }, 'orderly B');
    let c: ChildConsumer | undefined;
    await Promise.all([a.ready(), b.ready()]);

    const shards = 16;
    const perShard = 60;
    const total = shards * perShard;
    const keys: string[] = [];
    for (let i = 0; i < total; i++) {
      const shard = i % shards;
      const seq = Math.floor(i / shards);
      const key = `s${shard}-${seq}`;
      keys.push(key);
      await producer.sendOrderly({ topic, keys: [key], body: key }, `s${shard}`);
      if (i === Math.floor(total * 0.25)) {
        c = startChildConsumer({ ...cfg, instanceName: 'orderly-c' }, 'orderly C');
        await c.ready();
      }
      if (i === Math.floor(total * 0.6)) {
        // Mid-stream: B dies without unlocking or committing.
        await waitFor('B consuming', () => b.done().length > 20, { timeoutMs: 20_000 });
        b.proc.kill('SIGKILL');
        await b.proc.exited;
      }
      if (i % 20 === 19) await sleep(60);
    }
    const all = () => [...a.done(), ...b.done(), ...(c?.done() ?? [])];
    await waitFor(
      'every key consumed',
      () => {
        const seen = new Set(all().map((e) => e.key));
        return keys.every((k) => seen.has(k));
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    ).catch((err: Error) => {
      const seen = new Set(all().map((e) => e.key));
      throw new Error(`${err.message}; missing ${keys.filter((k) => !seen.has(k)).length}/${total}\nA: ${a.proc.output().slice(-1500)}\nC: ${c?.proc.output().slice(-1500)}`);
    });

    // Order: per shard, seq N is first started only after seq N-1 first finished (in any process).
    const procs: Array<[string, ChildConsumer]> = [['A', a], ['B', b], ['C', c!]];
    const firstStart = new Map<string, number>();
    const firstDone = new Map<string, number>();
    const doneCount = new Map<string, number>();
    const queueOwners = new Map<number, Set<string>>();
    for (const [name, p] of procs) {
      for (const e of p.events()) {
        if (!e.key) continue;
        if (e.event === 'start') firstStart.set(e.key, Math.min(e.t, firstStart.get(e.key) ?? Infinity));
        if (e.event === 'done') {
          firstDone.set(e.key, Math.min(e.t, firstDone.get(e.key) ?? Infinity));
          doneCount.set(e.key, (doneCount.get(e.key) ?? 0) + 1);
          (queueOwners.get(e.queueId) ?? queueOwners.set(e.queueId, new Set()).get(e.queueId)!).add(name);
        }
      }
    }
    const violations: string[] = [];
    for (let shard = 0; shard < shards; shard++) {
      for (let seq = 1; seq < perShard; seq++) {
        const prev = `s${shard}-${seq - 1}`;
        const cur = `s${shard}-${seq}`;
        if (firstStart.get(cur)! < firstDone.get(prev)!) violations.push(`${cur} started before ${prev} finished`);
      }
    }
    expect(violations).toEqual([]);
    // Duplicates happen only where a queue changed hands (rebalance / the kill).
    const dupKeys = [...doneCount].filter(([, n]) => n > 1);
    const duplicates = dupKeys.reduce((s, [, n]) => s + n - 1, 0);
    const dupQueues = new Set<number>();
    for (const [, p] of procs) for (const e of p.done()) if (e.key && doneCount.get(e.key)! > 1) dupQueues.add(e.queueId);
    for (const q of dupQueues) expect(queueOwners.get(q)!.size, `queue ${q} had duplicates but one owner`).toBeGreaterThan(1);
    console.log(
      `[orderly e2e] ${total} messages, consumed A=${a.done().length} B=${b.done().length} (SIGKILLed) C=${c!.done().length}; ` +
        `duplicates across rebalance: ${duplicates} (${dupKeys.length} keys, queues ${[...dupQueues].sort().join(',') || '-'})`,
    );
    // Every queue was moved at least once: C joined and B died.
    expect([...queueOwners.values()].some((o) => o.has('C'))).toBe(true);

    const [ea, ec] = await Promise.all([a.proc.stop(20_000), c!.proc.stop(20_000)]);
    expect(ea.code, a.proc.output().slice(-2000)).toBe(0);
    expect(ec.code, c!.proc.output().slice(-2000)).toBe(0);
    // Graceful shutdown unlocked the queues: another client gets all 8 locks at once (B's have expired by now).
    const mqSet = Array.from({ length: 8 }, (_, queueId) => ({ topic, brokerName, queueId }));
    const lock = await probe.request(
      broker,
      RequestCode.LOCK_BATCH_MQ,
      undefined,
      Buffer.from(JSON.stringify({ consumerGroup: group, clientId: 'probe@lock', onlyThisBroker: false, mqSet })),
    );
    expect(lock.code).toBe(ResponseCode.SUCCESS);
    expect((JSON.parse(lock.body!.toString()) as { lockOKMQSet: unknown[] }).lockOKMQSet.length).toBe(8);
  }, 180_000);

  it('concurrent: 20 in flight; a slow message holds the committed offset, and after kill + restart it is redelivered', async () => {
    const topic = `E2E_SLOW_${run}`;
    const group = `CG_SLOW_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 1);
    const total = 120;
    const slowIndex = 10;
    for (let i = 0; i < total; i++) await producer.send({ topic, keys: [`c-${i}`], body: `c-${i}` });
    const cfg = { namesrvAddr: ns, group, topic, consumeThreadMax: 20, handlerDelayMs: 40, persistConsumerOffsetIntervalMs: 300 };
    const first = startChildConsumer({ ...cfg, slowKeys: { [`c-${slowIndex}`]: 600_000 } }, 'slow consumer 1');
    await first.ready();
    await waitFor('all but the slow message consumed', () => first.done().length >= total - 1, { timeoutMs: 30_000 });
    const starts = first.events().filter((e) => e.event === 'start');
    const maxInFlight = Math.max(...starts.map((e) => e.inFlight ?? 0));
    expect(maxInFlight).toBe(20);
    expect(first.done().some((e) => e.key === `c-${slowIndex}`)).toBe(false);
    // Offsets are committed (every 300 ms) but never past the slow message.
    await waitFor('committed offset reaches the slow message', async () => (await committedOffset(group, topic, 0)) === slowIndex, { timeoutMs: 10_000 });
    await sleep(1_000);
    expect(await committedOffset(group, topic, 0)).toBe(slowIndex);

    first.proc.kill('SIGKILL');
    await first.proc.exited;
    const second = startChildConsumer(cfg, 'slow consumer 2');
    await second.ready();
    await waitFor('the slow message redelivered', () => second.done().some((e) => e.key === `c-${slowIndex}`), { timeoutMs: 30_000 });
    await waitFor('the rest redelivered', () => second.done().length >= total - slowIndex, { timeoutMs: 30_000 });
    const offsets = second.done().map((e) => e.queueOffset);
    expect(Math.min(...offsets)).toBe(slowIndex);
    console.log(`[concurrent e2e] slow message at offset ${slowIndex} redelivered; ${second.done().length - 1} finished messages after it consumed again`);
    expect((await second.proc.stop(20_000)).code).toBe(0);
    await waitFor('final offset committed', async () => (await committedOffset(group, topic, 0)) === total, { timeoutMs: 10_000 });
  }, 120_000);

  it('retry → DLQ: throw and RECONSUME_LATER retry with rising reconsumeTimes, delayLevelWhenNextConsume -1 goes straight to the DLQ', async () => {
    const topic = `E2E_RETRY_${run}`;
    const group = `CG_RETRY_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 2);
    const seen = new Map<string, number[]>();
    const topics = new Set<string>();
    const actions: string[] = [];
    const c = consumer({ group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: 2 });
    c.on('consume.failure', (e) => actions.push(`${e.reconsumeTimes}:${e.action}`));
    c.subscribe(topic, '*');
    c.onMessage((msg: MessageExt, ctx) => {
      const key = msg.keys[0]!;
      (seen.get(key) ?? seen.set(key, []).get(key)!).push(msg.reconsumeTimes);
      topics.add(msg.topic);
      if (key === 'throw') throw new Error('handler failed');
      if (key === 'later') return 'RECONSUME_LATER';
      if (key === 'dlq') {
        ctx.delayLevelWhenNextConsume = -1;
        throw new Error('poison');
      }
      return undefined;
    });
    await c.start();
    for (const key of ['throw', 'later', 'dlq', 'ok']) await producer.send({ topic, keys: [key], body: `body-${key}` });

    const dlq = `%DLQ%${group}`;
    const dlqRecords = await waitFor(
      'three messages in the DLQ',
      async () => {
        const recs = await probe.pullAll(broker, dlq, 0);
        return recs.length >= 3 ? recs : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
    await sleep(1_500);
    expect(seen.get('throw')).toEqual([0, 1, 2]);
    expect(seen.get('later')).toEqual([0, 1, 2]);
    expect(seen.get('dlq')).toEqual([0]);
    expect(seen.get('ok')).toEqual([0]);
    // Retries reach the listener under the original topic.
    expect([...topics]).toEqual([topic]);
    expect(dlqRecords.map((r) => r.properties.KEYS).sort()).toEqual(['dlq', 'later', 'throw']);
    for (const r of dlqRecords) {
      expect(r.topic).toBe(dlq);
      expect(r.properties.RETRY_TOPIC).toBe(topic);
      expect(r.body.toString()).toBe(`body-${r.properties.KEYS}`);
    }
    expect(actions.filter((a) => a.endsWith(':dlq')).sort()).toEqual(['0:dlq', '2:dlq', '2:dlq']);
    console.log(`[retry e2e] reconsumeTimes throw=${seen.get('throw')} later=${seen.get('later')} dlq=${seen.get('dlq')}; DLQ holds ${dlqRecords.length}`);
    await c.shutdown();
  }, 90_000);

  it('orderly failure: the queue is suspended and the message retried locally, then it goes to the DLQ and the queue moves on', async () => {
    const topic = `E2E_ORDERLY_DLQ_${run}`;
    const group = `CG_ORDERLY_DLQ_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 1);
    const calls: Array<[string, number, number]> = [];
    const started = Date.now();
    const c = consumer({ group, orderly: true, maxReconsumeTimes: 2, suspendCurrentQueueTimeMillis: 300, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    c.subscribe(topic, '*').onMessage((m) => {
      calls.push([m.keys[0]!, m.reconsumeTimes, Date.now() - started]);
      if (m.keys[0] === 'poison') throw new Error('cannot handle');
    });
    for (const key of ['before', 'poison', 'after']) await producer.send({ topic, keys: [key], body: key });
    await c.start();
    await waitFor('the queue moved past the poison message', () => calls.some(([k]) => k === 'after'), { timeoutMs: 20_000 });
    expect(calls.map(([k, r]) => `${k}:${r}`)).toEqual(['before:0', 'poison:0', 'poison:1', 'poison:2', 'after:0']);
    // Suspended between local retries.
    const poison = calls.filter(([k]) => k === 'poison').map(([, , t]) => t);
    expect(poison[1]! - poison[0]!).toBeGreaterThanOrEqual(250);
    const dlq = await waitFor('poison in the DLQ', async () => {
      const recs = await probe.pullAll(broker, `%DLQ%${group}`, 0).catch(() => []);
      return recs.length > 0 ? recs : undefined;
    }, { timeoutMs: 10_000 });
    expect(dlq.map((r) => r.properties.KEYS)).toEqual(['poison']);
    await c.shutdown();
    await waitFor('offset committed past the queue', async () => (await committedOffset(group, topic, 0)) === 3, { timeoutMs: 5_000 });
  }, 60_000);

  it('graceful shutdown: drains in-flight listeners up to the bound, persists offsets, unregisters; unfinished work is redelivered', async () => {
    const topic = `E2E_SHUTDOWN_${run}`;
    const group = `CG_SHUTDOWN_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 1);
    for (let i = 0; i < 10; i++) await producer.send({ topic, keys: [`g-${i}`], body: 'x' });
    const done: string[] = [];
    const c1 = consumer({ group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    c1.subscribe(topic, '*').onMessage(async (m) => {
      if (m.keys[0] === 'g-5') await sleep(4_000);
      done.push(m.keys[0]!);
    });
    await c1.start();
    await waitFor('all but g-5 done', () => done.length === 9, { timeoutMs: 10_000 });
    const clientId = c1.clientId!;
    expect(await probe.consumerList(broker, group)).toContain(clientId);
    await c1.shutdown({ awaitTerminationMs: 100 });
    expect(done).not.toContain('g-5');
    expect(await committedOffset(group, topic, 0)).toBe(5);
    expect(await probe.consumerList(broker, group)).not.toContain(clientId);

    // The next member starts at the unfinished message; this time shutdown waits long enough for it.
    const again: Array<[string, number]> = [];
    const c2 = consumer({ group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    let slowDone = false;
    c2.subscribe(topic, '*').onMessage(async (m) => {
      again.push([m.keys[0]!, m.queueOffset]);
      if (m.keys[0] === 'g-5') {
        await sleep(1_500);
        slowDone = true;
      }
    });
    await c2.start();
    await waitFor('g-5..g-9 again', () => again.length >= 5, { timeoutMs: 10_000 });
    expect(Math.min(...again.map(([, o]) => o))).toBe(5);
    await c2.shutdown({ awaitTerminationMs: 10_000 });
    expect(slowDone).toBe(true);
    expect(await committedOffset(group, topic, 0)).toBe(10);
  }, 60_000);

  it('broadcasting: two consumers each get every message; a failure is dropped; local offsets survive a restart', async () => {
    const topic = `E2E_BCAST_${run}`;
    const group = `CG_BCAST_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 4);
    const dirs = [tempDir('bcast-1'), tempDir('bcast-2')];
    try {
      const got: Array<string[]> = [[], []];
      const dropped: string[] = [];
      const make = (i: number) => {
        const c = consumer({ group, messageModel: 'BROADCASTING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', instanceName: `bcast-${i}`, offsetStoreDir: dirs[i]!.path });
        c.subscribe(topic, '*');
        c.on('consume.failure', (e) => dropped.push(`${i}:${e.action}`));
        c.onMessage((msg) => {
          got[i]!.push(msg.keys[0]!);
          if (i === 0 && msg.keys[0] === 'b-7') throw new Error('broadcast failure');
        });
        return c;
      };
      const c0 = make(0);
      const c1 = make(1);
      await Promise.all([c0.start(), c1.start()]);
      const keys = Array.from({ length: 40 }, (_, i) => `b-${i}`);
      for (const k of keys) await producer.send({ topic, keys: [k], body: k });
      await waitFor('both consumers got everything', () => got[0]!.length >= 40 && got[1]!.length >= 40, { timeoutMs: 20_000 });
      await sleep(1_500);
      expect([...got[0]!].sort()).toEqual([...keys].sort());
      expect([...got[1]!].sort()).toEqual([...keys].sort());
      expect(dropped).toEqual(['0:drop']);
      await c0.shutdown();

      // Restart consumer 0 from its offset file: only new messages arrive.
      got[0] = [];
      const again = make(0);
      await again.start();
      const more = Array.from({ length: 10 }, (_, i) => `b2-${i}`);
      for (const k of more) await producer.send({ topic, keys: [k], body: k });
      await waitFor('new messages after restart', () => got[0]!.length >= 10, { timeoutMs: 20_000 });
      await sleep(1_000);
      expect([...got[0]!].sort()).toEqual([...more].sort());
      await Promise.all([again.shutdown(), c1.shutdown()]);
    } finally {
      for (const d of dirs) d.cleanup();
    }
  }, 90_000);

  it('consumeFromWhere for a new group: FIRST reads everything, TIMESTAMP from the time, LAST only what comes after start', async () => {
    const topic = `E2E_FROM_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 1);
    for (let i = 0; i < 3; i++) await producer.send({ topic, keys: [`old-${i}`], body: 'x' });
    await sleep(2_000);
    const since = Date.now();
    await sleep(100);
    for (let i = 0; i < 3; i++) await producer.send({ topic, keys: [`mid-${i}`], body: 'x' });
    const start = async (where: PushConsumerOptions['consumeFromWhere'], name: string) => {
      const got: string[] = [];
      const c = consumer({ group: `CG_FROM_${name}_${run}`, consumeFromWhere: where, consumeTimestamp: since });
      c.subscribe(topic, '*').onMessage((m) => void got.push(m.keys[0]!));
      await c.start();
      return { c, got };
    };
    const first = await start('CONSUME_FROM_FIRST_OFFSET', 'FIRST');
    const ts = await start('CONSUME_FROM_TIMESTAMP', 'TS');
    const last = await start('CONSUME_FROM_LAST_OFFSET', 'LAST');
    await sleep(500);
    for (let i = 0; i < 2; i++) await producer.send({ topic, keys: [`new-${i}`], body: 'x' });
    await waitFor('all three consumers caught up', () => first.got.length >= 8 && ts.got.length >= 5 && last.got.length >= 2, { timeoutMs: 20_000 });
    await sleep(1_000);
    expect(first.got).toEqual(['old-0', 'old-1', 'old-2', 'mid-0', 'mid-1', 'mid-2', 'new-0', 'new-1']);
    expect(ts.got).toEqual(['mid-0', 'mid-1', 'mid-2', 'new-0', 'new-1']);
    expect(last.got).toEqual(['new-0', 'new-1']);
    await Promise.all([first.c.shutdown(), ts.c.shutdown(), last.c.shutdown()]);
  }, 60_000);

  it('PULL_OFFSET_MOVED: the queue is dropped, the broker\'s nextBeginOffset stored, and consumption resumes from it', async () => {
    const topic = `E2E_MOVED_${run}`;
    const group = `CG_MOVED_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 1);
    for (let i = 0; i < 5; i++) await producer.send({ topic, keys: [`old-${i}`], body: 'x' });
    // A stored offset far beyond the queue's end (e.g. the store was replaced). The broker answers 21 with
    // nextBeginOffset 0 here, as Java's does while the queue still starts at 0 (OFFSET_OVERFLOW_BADLY).
    const upd = await probe.request(broker, RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: 0, commitOffset: 1000 });
    expect(upd.code).toBe(ResponseCode.SUCCESS);
    const got: Array<[string, number]> = [];
    const pulls: string[] = [];
    const c = consumer({ group, consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' });
    c.on('pull', (e) => {
      if (e.messageQueue.topic === topic) pulls.push(`${e.status}:${e.nextBeginOffset}`);
    });
    c.subscribe(topic, '*').onMessage((m) => void got.push([m.keys[0]!, m.queueOffset]));
    await c.start();
    await waitFor('old messages after the correction', () => got.length >= 5, { timeoutMs: 15_000 });
    expect(pulls[0]).toBe('OFFSET_ILLEGAL:0');
    for (let i = 0; i < 2; i++) await producer.send({ topic, keys: [`new-${i}`], body: 'x' });
    await waitFor('new messages', () => got.length >= 7, { timeoutMs: 10_000 });
    expect(got.map(([k, o]) => `${k}@${o}`)).toEqual(['old-0@0', 'old-1@1', 'old-2@2', 'old-3@3', 'old-4@4', 'new-0@5', 'new-1@6']);
    await c.shutdown();
    expect(await committedOffset(group, topic, 0)).toBe(7);
  }, 60_000);

  it('NameServer failover: with the first NameServer of the list down, the consumer still gets routes and messages', async () => {
    const topic = `E2E_NSFAIL_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 2);
    const dead = `127.0.0.1:${await freePort()}`;
    const got: string[] = [];
    const c = new PushConsumer({ namesrvAddr: `${dead};${ns}`, group: `CG_NSFAIL_${run}`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', rebalanceIntervalMs: 1_000 });
    inProcess.push(c);
    c.subscribe(topic, '*').onMessage((m) => void got.push(m.keys[0]!));
    await c.start();
    for (let i = 0; i < 5; i++) await producer.send({ topic, keys: [`f-${i}`], body: 'x' });
    await waitFor('messages via the second NameServer', () => got.length >= 5, { timeoutMs: 20_000 });
    expect([...got].sort()).toEqual(['f-0', 'f-1', 'f-2', 'f-3', 'f-4']);
    await c.shutdown();
  }, 60_000);

  it('interop: an ali-ons producer → our PushConsumer (tag filter, compressed body, offset msgIds)', async () => {
    const topic = `E2E_ONS2US_${run}`;
    const group = `CG_ONS2US_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 4);
    const got: MessageExt[] = [];
    const c = consumer({ group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    c.subscribe(topic, 'TagA').onMessage((m) => void got.push(m));
    await c.start();
    const small = startAliOnsProducer({ nameSrv: ns, topic, count: 20, tags: ['TagA', 'TagB'], keyPrefix: 'ons' }, 'ali-ons producer');
    const { sent } = await small.finished(30_000);
    const big = startAliOnsProducer({ nameSrv: ns, topic, count: 2, tags: ['TagA'], keyPrefix: 'ons-big', bodySize: 6000 }, 'ali-ons producer (big)');
    const { sent: sentBig } = await big.finished(30_000);
    const expected = [...sent.filter((s) => s.tags === 'TagA'), ...sentBig];
    await waitFor('TagA messages from ali-ons', () => got.length >= expected.length, { timeoutMs: 20_000 });
    await sleep(1_000);
    expect(got.length).toBe(expected.length);
    const byKey = new Map(got.map((m) => [m.keys[0]!, m]));
    for (const s of expected) {
      const m = byKey.get(s.key);
      expect(m, s.key).toBeDefined();
      expect(m!.tags).toBe('TagA');
      expect(m!.body.toString()).toBe(s.body);
      // ali-ons sets no UNIQ_KEY: the msgId is the broker's offset id, the one ali-ons reported.
      expect(m!.msgId).toBe(s.msgId);
    }
    expect(sentBig.every((s) => byKey.get(s.key)!.body.length === 6000)).toBe(true);
    await c.shutdown();
  }, 90_000);
});
