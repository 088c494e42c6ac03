/**
 * `dedup: { store: 'redis' }` end to end on the embedded broker and the real Redis
 * (ROCKETRY_REDIS_URL, fails loudly when unreachable): duplicates by msgId and by keys produce one
 * effect, a redelivery of already-consumed messages runs nothing, a copy that finds PROCESSING is
 * retried (not dropped), a failure releases the lease at once, and with Redis unreachable the message
 * waits (never consumed unguarded) and is consumed once Redis is back.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RedisDedupStore,
  resolveRocketryConfig,
  RocketListener,
  RocketListenerContainer,
  RocketTemplate,
  startEmbeddedBroker,
  type EmbeddedBroker,
  type MessageExt,
  type RocketListenerExtras,
  type RocketryConfig,
} from '@rocketry/framework';
import { createRequest, RequestCode, ResponseCode, UpdateConsumerOffsetRequestHeader } from '@rocketry/broker/protocol';
import { RemotingClient } from '@rocketry/broker/remoting';
import { freePort } from '../helpers/env';

const REDIS_URL = process.env.ROCKETRY_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${process.pid}_${Date.now().toString(36)}`;
const PREFIX = `rocketry-test:${run}`;
const T = { ids: `DedupIds_${run}`, keys: `DedupKeys_${run}`, busy: `DedupBusy_${run}`, flaky: `DedupFlaky_${run}`, down: `DedupDown_${run}` };
const G = { ids: `dd-ids-${run}`, keys: `dd-keys-${run}`, busy: `dd-busy-${run}`, flaky: `dd-flaky-${run}`, down: `dd-down-${run}` };

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP forwarder to the real Redis that can be closed and reopened on the same port ("Redis stopped"). */
class RedisGate {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}
  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

class Effects {
  effects = new Map<string, number>();
  runs: Array<{ id: string; reconsumeTimes: number; key: string | undefined }> = [];
  record(id: string, msg: MessageExt, extras: RocketListenerExtras | undefined): void {
    this.runs.push({ id, reconsumeTimes: msg.reconsumeTimes, key: extras?.dedupKey });
  }
  effect(id: string): void {
    this.effects.set(id, (this.effects.get(id) ?? 0) + 1);
  }
}

const dedupBase = { store: 'redis' as const, redis: REDIS_URL, keyPrefix: PREFIX, retryDelayLevel: 1 };

class Listeners extends Effects {
  failOnce = new Set<string>();
  slowMs = 0;

  @RocketListener({ topic: T.ids, group: G.ids, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { ...dedupBase, key: 'msgId', ttlMs: 600_000 } })
  onIds(p: { id: string }, msg: MessageExt, extras: RocketListenerExtras): void {
    this.record(p.id, msg, extras);
    this.effect(p.id);
  }

  @RocketListener({ topic: T.keys, group: G.keys, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { ...dedupBase, key: 'keys' } })
  onKeys(p: { id: string }, msg: MessageExt, extras: RocketListenerExtras): void {
    this.record(p.id, msg, extras);
    this.effect(p.id);
  }

  @RocketListener({ topic: T.busy, group: G.busy, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { ...dedupBase, key: (m) => `order:${m.keys[0] ?? ''}`, processingLeaseMs: 2_000 } })
  async onBusy(p: { id: string }, msg: MessageExt, extras: RocketListenerExtras): Promise<void> {
    this.record(p.id, msg, extras);
    if (this.slowMs > 0) await sleep(this.slowMs);
    this.effect(p.id);
  }

  @RocketListener({ topic: T.flaky, group: G.flaky, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { ...dedupBase, processingLeaseMs: 120_000 } })
  onFlaky(p: { id: string }, msg: MessageExt, extras: RocketListenerExtras): void {
    this.record(p.id, msg, extras);
    if (this.failOnce.delete(p.id)) throw new Error(`transient failure of ${p.id}`);
    this.effect(p.id);
  }
}

describe('dedup with Redis', () => {
  let broker: EmbeddedBroker;
  let config: RocketryConfig;
  let template: RocketTemplate;
  let container: RocketListenerContainer;
  let redis: Redis;
  const l = new Listeners();

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      throw new Error(`Redis is unreachable at ${REDIS_URL} (set ROCKETRY_REDIS_URL): ${(err as Error).message}`, { cause: err });
    }
    broker = await startEmbeddedBroker({ settings: { messageDelayLevel: Array.from({ length: 18 }, () => '1s').join(' ') }, topics: Object.values(T) });
    config = resolveRocketryConfig({ nameServer: broker.namesrvAddr, producer: { group: `dd-pg-${run}` }, env: false });
    template = RocketTemplate.fromConfig(config);
    await template.start();
    container = new RocketListenerContainer({ config });
    container.registerInstance(l);
    await container.start();
  });

  afterAll(async () => {
    await container?.stop({ awaitTerminationMs: 1_000 });
    await template?.destroy();
    await broker?.stop();
    if (redis?.status === 'ready') {
      const keys = await redis.keys(`${PREFIX}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis?.disconnect();
  });

  it('the same msgId sent twice, and a redelivery of the whole queue, produce one effect each', async () => {
    for (const id of ['a', 'b', 'c']) {
      await template.syncSend(T.ids, { id }, { properties: { UNIQ_KEY: `uniq-${run}-${id}` } });
      await template.syncSend(T.ids, { id }, { properties: { UNIQ_KEY: `uniq-${run}-${id}` } });
    }
    await until('6 deliveries handled', () => {
      const c = container.health().consumers.find((x) => x.group === G.ids)!;
      return c.consumed + c.duplicates === 6 && c;
    });
    expect(Object.fromEntries(l.effects)).toMatchObject({ a: 1, b: 1, c: 1 });
    expect(l.runs.filter((r) => ['a', 'b', 'c'].includes(r.id)).map((r) => r.key).sort()).toEqual([`uniq-${run}-a`, `uniq-${run}-b`, `uniq-${run}-c`]);
    expect(container.health().consumers.find((x) => x.group === G.ids)!.duplicates).toBe(3);
    expect(await redis.get(`${PREFIX}:${G.ids}:uniq-${run}-a`)).toBe('D');
    const pttl = await redis.pttl(`${PREFIX}:${G.ids}:uniq-${run}-a`);
    expect(pttl).toBeGreaterThan(500_000); // DONE kept for the window (ttlMs 600 s)

    // A redelivery (what a consumer crash before the offset commit causes): move the group back to 0.
    const client = new RemotingClient();
    try {
      // The running consumer would overwrite the offsets: stop it, rewind, start a new container.
      await container.stop({ awaitTerminationMs: 1_000 });
      for (let queueId = 0; queueId < 4; queueId++) {
        const header = UpdateConsumerOffsetRequestHeader.encode({ consumerGroup: G.ids, topic: T.ids, queueId, commitOffset: 0 });
        const reply = await client.invoke(broker.brokerAddr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, header), 3_000);
        expect(reply.code).toBe(ResponseCode.SUCCESS);
      }
    } finally {
      client.close();
    }
    container = new RocketListenerContainer({ config });
    container.registerInstance(l);
    await container.start();
    await until('redelivered 6 acknowledged as duplicates', () => container.health().consumers.find((x) => x.group === G.ids)!.duplicates === 6);
    expect(Object.fromEntries(l.effects)).toMatchObject({ a: 1, b: 1, c: 1 });
  });

  it("key: 'keys' — two different messages with the same KEYS are one effect", async () => {
    const r1 = await template.syncSend(T.keys, { id: 'k1' }, { keys: [`order-${run}`] });
    const r2 = await template.syncSend(T.keys, { id: 'k1' }, { keys: [`order-${run}`] });
    expect(r1.msgId).not.toBe(r2.msgId);
    await until('both handled', () => {
      const c = container.health().consumers.find((x) => x.group === G.keys)!;
      return c.consumed + c.duplicates === 2;
    });
    expect(l.effects.get('k1')).toBe(1);
  });

  it('a copy that finds PROCESSING is retried later, not dropped (held by a crashed consumer, and truly concurrent)', async () => {
    // Another consumer took the key and died: its PROCESSING lease (1.5 s) just expires.
    const other = new RedisDedupStore(redis, { keyPrefix: PREFIX, ttlMs: 60_000, processingLeaseMs: 1_500, storeTimeoutMs: 2_000 });
    expect((await other.acquire(G.busy, 'order:crashed')).state).toBe('ACQUIRED');
    await template.syncSend(T.busy, { id: 'crashed' }, { keys: ['crashed'] });
    await until('run after the lease expired', () => l.effects.get('crashed') === 1, 30_000);
    const crashedRuns = l.runs.filter((r) => r.id === 'crashed');
    // The first delivery (reconsumeTimes 0) found PROCESSING and did not run the handler.
    expect(crashedRuns.length).toBe(1);
    expect(crashedRuns[0]!.reconsumeTimes).toBeGreaterThanOrEqual(1);

    // Two copies at once while the handler is slow: one runs, the other is retried and then acknowledged as a duplicate.
    l.slowMs = 1_500;
    await Promise.all([template.syncSend(T.busy, { id: 'twin' }, { keys: ['twin'] }), template.syncSend(T.busy, { id: 'twin' }, { keys: ['twin'] })]);
    await until('twin effect', () => l.effects.get('twin') === 1);
    await until('the retried twin acknowledged as duplicate', () => container.health().consumers.find((x) => x.group === G.busy)!.duplicates >= 1);
    await sleep(1_500);
    expect(l.effects.get('twin')).toBe(1);
    expect(l.runs.filter((r) => r.id === 'twin')).toHaveLength(1);
    l.slowMs = 0;
  });

  it('a failing handler releases its lease: the retry runs at once (lease 120 s) and the effect happens once', async () => {
    l.failOnce.add('f1');
    const started = Date.now();
    await template.syncSend(T.flaky, { id: 'f1' }, { keys: ['f1'] });
    await until('retried and consumed', () => l.effects.get('f1') === 1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(l.runs.filter((r) => r.id === 'f1').map((r) => r.reconsumeTimes)).toEqual([0, 1]);
  });

  it('Redis unreachable: the message waits (retried, never run unguarded) and is consumed once Redis is back', async () => {
    const port = await freePort();
    const target = new URL(REDIS_URL);
    const gate = new RedisGate(port, { host: target.hostname, port: Number(target.port || 6379) });
    const downUrl = `redis://127.0.0.1:${port}`;
    class DownListener extends Effects {
      @RocketListener({ topic: T.down, group: G.down, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { ...dedupBase, redis: downUrl, storeTimeoutMs: 300, processingLeaseMs: 3_000 } })
      onDown(p: { id: string }, msg: MessageExt, extras: RocketListenerExtras): void {
        this.record(p.id, msg, extras);
        this.effect(p.id);
      }
    }
    const down = new DownListener();
    const c2 = new RocketListenerContainer({ config });
    c2.registerInstance(down);
    await c2.start();
    try {
      await template.syncSend(T.down, { id: 'd1' }, { keys: ['d1'] });
      await until('at least two guarded retries', () => (c2.health().consumers[0]!.failed >= 2 ? true : undefined), 30_000);
      expect(down.runs).toHaveLength(0);
      expect(c2.health().consumers[0]!.lastError?.message).toMatch(/dedup store redis unavailable/);
      await gate.open();
      await until('consumed after Redis came back', () => down.effects.get('d1') === 1, 30_000);
      // Stopped again: a second message waits again.
      await gate.close();
      const failedBefore = c2.health().consumers[0]!.failed;
      await template.syncSend(T.down, { id: 'd2' }, { keys: ['d2'] });
      await until('retried while down', () => c2.health().consumers[0]!.failed > failedBefore, 30_000);
      expect(down.effects.get('d2')).toBeUndefined();
      await gate.open();
      await until('d2 consumed after Redis came back', () => down.effects.get('d2') === 1, 30_000);
      expect(down.runs.map((r) => r.id)).toEqual(['d1', 'd2']);
    } finally {
      await c2.stop({ awaitTerminationMs: 500 });
      await gate.close();
    }
  });
});
