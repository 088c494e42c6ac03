/**
 * Issue 3, producer side: our Producer (from @rocketry/framework) against `rocketry start` and a
 * second `rocketry broker`, each a separate process. Sync/async/oneway/batch sends read back by pull,
 * compression stored compressed, size limit, async retry when a broker goes away, NameServer
 * failover, and interop with an unmodified ali-ons consumer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageSysFlag } from '@rocketry/broker/protocol';
import {
  Instrumentation,
  MessageTooLargeError,
  MQClientError,
  Producer,
  type MessageExt,
  type RetryEvent,
  type SendResult,
} from '@rocketry/framework';
import { readQueue } from '../../framework/src/client/read-queue.test-support';
import { startAliOnsConsumer } from '../helpers/ali-ons';
import { killAllChildren } from '../helpers/child-process';
import { freePort, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, waitForRoute } from '../helpers/topics';

describe('our Producer against rocketry processes', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;
  let ns: string;
  let broker: string;
  const run = Date.now().toString(36);
  const producers: Producer[] = [];

  beforeAll(async () => {
    dir = tempDir('e2e-client-producer');
    rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, name: 'rocketry start (client-producer)' });
    ns = rocketry.namesrvAddr!;
    broker = rocketry.brokerAddr!;
    probe = new ProtocolProbe();
  });

  afterAll(async () => {
    for (const p of producers) await p.shutdown().catch(() => undefined);
    probe?.close();
    try {
      if (rocketry) {
        const exit = await rocketry.stop(15_000);
        expect(exit.code, rocketry.output().slice(-3000)).toBe(0);
      }
    } finally {
      await killAllChildren();
      dir?.cleanup();
    }
  });

  async function producer(opts: Partial<ConstructorParameters<typeof Producer>[0]> = {}): Promise<Producer> {
    const p = new Producer({ namesrvAddr: ns, group: `PID_E2E_${run}_${producers.length}`, ...opts });
    await p.start();
    producers.push(p);
    return p;
  }

  /** Pulls one queue from `offset` through the producer's own MQClientAPI (no consumer involved). */
  async function pull(p: Producer, addr: string, topic: string, queueId: number, offset: number, max = 32): Promise<{ messages: MessageExt[]; raw: Buffer | undefined }> {
    const res = await readQueue(p.clientInstance.api, addr, { topic, queueId, offset, max, group: `CID_READER_${run}` });
    return { messages: res.messages, raw: res.body };
  }

  async function readBack(p: Producer, r: SendResult): Promise<MessageExt> {
    const { messages } = await pull(p, broker, r.messageQueue.topic, r.messageQueue.queueId, r.queueOffset, 1);
    expect(messages).toHaveLength(1);
    return messages[0]!;
  }

  it('sync, async (callback and promise), oneway and batch sends all read back by pull', async () => {
    const topic = `CP_SEND_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 4);
    const p = await producer();

    const sync = await p.send({ topic, tags: 'TagA', keys: ['order-1', 'user-9'], body: 'sync-body', properties: { origin: 'e2e' } });
    expect(sync.status).toBe('SEND_OK');
    expect(sync.msgId).toMatch(/^[0-9A-F]{32}$/);
    const m = await readBack(p, sync);
    expect(m.body.toString()).toBe('sync-body');
    expect(m.tags).toBe('TagA');
    expect(m.keys).toEqual(['order-1', 'user-9']);
    expect(m.properties.origin).toBe('e2e');
    expect(m.msgId).toBe(sync.msgId);
    expect(m.offsetMsgId).toBe(sync.offsetMsgId);

    const cb = await new Promise<SendResult>((resolve, reject) => p.sendAsync({ topic, body: 'async-cb' }, { onSuccess: resolve, onException: reject }));
    expect((await readBack(p, cb)).body.toString()).toBe('async-cb');
    const pr = await p.sendAsync({ topic, body: 'async-promise' });
    expect((await readBack(p, pr)).body.toString()).toBe('async-promise');

    // Pipelined: 200 async sends in flight at once over the one broker connection.
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => p.sendAsync({ topic, body: `bulk-${i}`, keys: `bulk-${i}` })));
    expect(new Set(many.map((r) => r.msgId)).size).toBe(200);
    expect(many.every((r) => r.status === 'SEND_OK')).toBe(true);

    // Oneway: no reply, so read its (otherwise empty) topic until it shows up.
    const onewayTopic = `CP_ONEWAY_${run}`;
    await ensureTopic(probe, broker, [ns], onewayTopic, 1);
    await p.sendOneway({ topic: onewayTopic, body: 'oneway-body' });
    const oneway = await waitFor(
      'oneway message',
      async () => {
        const { messages } = await pull(p, broker, onewayTopic, 0, 0);
        return messages.length > 0 ? messages : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(oneway.map((x) => x.body.toString())).toEqual(['oneway-body']);

    const batch = await p.sendBatch([0, 1, 2, 3, 4].map((i) => ({ topic, tags: 'B', keys: `batch-${i}`, body: `batch-body-${i}` })));
    expect(batch.msgIds).toHaveLength(5);
    const { messages: bm } = await pull(p, broker, topic, batch.messageQueue.queueId, batch.queueOffset, 5);
    expect(bm.map((x) => x.body.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `batch-body-${i}`));
    expect(bm.map((x) => x.msgId)).toEqual(batch.msgIds);
    expect(bm.map((x) => x.keys[0])).toEqual([0, 1, 2, 3, 4].map((i) => `batch-${i}`));
  });

  it('a body over 4 KiB arrives intact and is stored compressed; over maxMessageSize fails before sending', async () => {
    const topic = `CP_COMPRESS_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 1);
    const p = await producer();
    const body = Buffer.from(JSON.stringify({ rows: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `row-${i}` })) }));
    expect(body.length).toBeGreaterThan(4096);
    const r = await p.send({ topic, body });
    // Raw pull: the stored record carries the COMPRESSED sysFlag and far fewer bytes than the body.
    const { messages, raw } = await pull(p, broker, topic, r.messageQueue.queueId, r.queueOffset, 1);
    expect(messages[0]!.sysFlag & MessageSysFlag.COMPRESSED).toBe(MessageSysFlag.COMPRESSED);
    expect(raw!.readInt32BE(36) & MessageSysFlag.COMPRESSED).toBe(MessageSysFlag.COMPRESSED); // SYSFLAG at byte 36
    expect(raw!.length).toBeLessThan(body.length / 2);
    expect(messages[0]!.body.equals(body)).toBe(true);

    const small = await producer({ maxMessageSize: 64 * 1024 });
    const err = await small.send({ topic, body: Buffer.alloc(64 * 1024 + 1, 0x61) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect((err as Error).message).toMatch(/over maxMessageSize 65536/);
    // Nothing reached the broker.
    expect((await pull(p, broker, topic, r.messageQueue.queueId, r.queueOffset + 1)).messages).toHaveLength(0);
  });

  it('async sends retry on the other broker when one broker process goes away (retry before onException)', async () => {
    const topic = `CP_RETRY_${run}`;
    const dirB = tempDir('e2e-client-producer-b');
    const brokerB = await startRocketryProcess({
      mode: 'broker',
      namesrvAddr: ns,
      dataDir: dirB.path,
      settings: { brokerName: `broker-b-${run}` },
      name: 'rocketry broker b',
    });
    try {
      await probe.createTopic(broker, topic, 2);
      await probe.createTopic(brokerB.brokerAddr!, topic, 2);
      await waitForRoute(probe, ns, topic, (r) => r.queueDatas.length === 2);
      const retries: RetryEvent[] = [];
      const instrumentation = new Instrumentation();
      instrumentation.on('retry', (e) => retries.push(e));
      const p = await producer({ instrumentation });
      const queues = await p.fetchPublishMessageQueues(topic);
      expect(new Set(queues.map((q) => q.brokerName)).size).toBe(2);

      brokerB.kill('SIGKILL');
      await brokerB.exited;
      // The producer still has broker-b in its cached route (refresh is every 30 s).
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          new Promise<SendResult | Error>((resolve) => p.sendAsync({ topic, body: `after-kill-${i}` }, { onSuccess: resolve, onException: resolve })),
        ),
      );
      for (const o of outcomes) {
        expect(o).not.toBeInstanceOf(Error);
        expect((o as SendResult).messageQueue.brokerName).not.toBe(`broker-b-${run}`);
      }
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.every((r) => r.brokerName === `broker-b-${run}` && r.error instanceof MQClientError && r.error.retriable)).toBe(true);
    } finally {
      brokerB.kill('SIGKILL');
      await brokerB.exited;
      dirB.cleanup();
    }
  });

  it('works when the first NameServer in the list is down', async () => {
    const topic = `CP_NSFAIL_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 2);
    const dead = `127.0.0.1:${await freePort()}`;
    const p = await producer({ namesrvAddr: `${dead};${ns}` });
    const r = await p.send({ topic, body: 'via-second-namesrv' });
    expect(r.status).toBe('SEND_OK');
    expect((await readBack(p, r)).body.toString()).toBe('via-second-namesrv');
    expect(p.clientInstance.namesrv.preferredAddress).toBe(ns);
  });

  it('interop: an unmodified ali-ons consumer receives what our Producer sends (incl. compressed and batched)', async () => {
    const topic = `CP_ALIONS_${run}`;
    const group = `CID_ALIONS_${run}`;
    await ensureTopic(probe, broker, [ns], topic, 4);
    const consumer = startAliOnsConsumer({ nameSrv: ns, group, topic, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }, 'ali-ons consumer (interop)');
    try {
      await consumer.ready();
      const p = await producer();
      const big = 'Z'.repeat(10_000);
      const sent: SendResult[] = [];
      for (let i = 0; i < 10; i++) sent.push(await p.send({ topic, tags: i % 2 ? 'odd' : 'even', keys: `k-${i}`, body: `plain-${i}` }));
      sent.push(await p.send({ topic, tags: 'big', keys: 'k-big', body: big }));
      const batch = await p.sendBatch([0, 1, 2].map((i) => ({ topic, keys: `kb-${i}`, body: `batched-${i}` })));
      const msgs = await consumer.waitMessages((m) => new Set(m.map((x) => x.keys)).size >= 14, 60_000, 'all 14 messages');
      const byKey = new Map(msgs.map((x) => [x.keys, x]));
      for (let i = 0; i < 10; i++) {
        const got = byKey.get(`k-${i}`)!;
        expect(got.body).toBe(`plain-${i}`);
        expect(got.tags).toBe(i % 2 ? 'odd' : 'even');
        // ali-ons reports the offset id as msgId.
        expect(got.msgId).toBe(sent[i]!.offsetMsgId);
      }
      expect(byKey.get('k-big')!.body).toBe(big);
      for (let i = 0; i < 3; i++) expect(byKey.get(`kb-${i}`)!.body).toBe(`batched-${i}`);
      expect(batch.offsetMsgIds).toContain(byKey.get('kb-0')!.msgId);
    } finally {
      await consumer.stop();
    }
  });
});
