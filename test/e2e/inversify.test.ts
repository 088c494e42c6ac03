/**
 * The inversify starter in plain Node, against `rocketry start` run as a separate process:
 * an app (test/e2e/inversify-app/orders-app.ts) with several @RocketListener methods (concurrent
 * and orderly, JSON payloads, topics/groups from ${placeholders}) and RocketTemplate; messages flow,
 * orderly order holds per hash key, and SIGTERM while messages are in flight loses nothing (each is
 * consumed or redelivered to the restarted app). Registration errors are checked in process.
 */
import path from 'node:path';
import 'reflect-metadata';
import { Container, injectable } from 'inversify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRocketryContainerModule, Producer, Rocketry, RocketListener, RocketTemplate } from '@rocketry/inversify';
import { jsonLines, killAllChildren, spawnNode, type ManagedChild } from '../helpers/child-process';
import { REPO_ROOT, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, SHORT_DELAY_LEVELS } from '../helpers/topics';

const APP = path.join(REPO_ROOT, 'test', 'e2e', 'inversify-app', 'orders-app.ts');

interface AppEvent {
  event: string;
  listener?: string;
  id?: string;
  key?: string;
  seq?: number;
  reconsumeTimes?: number;
  listeners?: string[];
  health?: string;
  stopMs?: number;
  inFlight?: string[];
  error?: string;
}

interface App {
  proc: ManagedChild;
  events(): AppEvent[];
}

async function startApp(cfg: Record<string, unknown>, name: string): Promise<App> {
  const proc = spawnNode(['--import', 'tsx', APP, JSON.stringify(cfg)], { name });
  const line = await proc.waitForLine((l) => l.includes('"event":"ready"') || l.includes('"event":"fatal"'), 30_000);
  if (line.includes('"fatal"')) throw new Error(`${name} failed: ${line}\n${proc.output().slice(-3000)}`);
  return { proc, events: () => jsonLines<AppEvent>(proc.lines()) };
}

describe('inversify starter app against rocketry start (separate process)', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;
  let producer: Producer;
  let template: RocketTemplate;
  const run = Date.now().toString(36);

  function appConfig(suffix: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      namesrvAddr: rocketry.namesrvAddr,
      producerGroup: `inv-app-pg-${suffix}-${run}`,
      properties: {
        'orders.topic': `InvOrders_${suffix}_${run}`,
        'orders.group': `inv-orders-cg-${suffix}-${run}`,
        'steps.topic': `InvSteps_${suffix}_${run}`,
        'steps.group': `inv-steps-cg-${suffix}-${run}`,
        'audit.topic': `InvAudit_${suffix}_${run}`,
        'audit.group': `inv-audit-cg-${suffix}-${run}`,
      },
      ...extra,
    };
  }

  async function createTopics(suffix: string): Promise<void> {
    for (const t of ['InvOrders', 'InvSteps', 'InvAudit']) await ensureTopic(probe, rocketry.brokerAddr!, [rocketry.namesrvAddr!], `${t}_${suffix}_${run}`, 4);
  }

  beforeAll(async () => {
    dir = tempDir('e2e-inversify');
    rocketry = await startRocketryProcess({
      mode: 'start',
      dataDir: dir.path,
      settings: { messageDelayLevel: SHORT_DELAY_LEVELS },
      name: 'rocketry start (inversify e2e)',
    });
    probe = new ProtocolProbe();
    producer = new Producer({ namesrvAddr: rocketry.namesrvAddr!, group: `inv-test-pg-${run}` });
    template = new RocketTemplate({ producer });
    await template.start();
  });

  afterAll(async () => {
    await template?.destroy().catch(() => undefined);
    probe?.close();
    await killAllChildren();
    await rocketry?.stop();
    dir?.cleanup();
  });

  it('messages flow through several listeners; the app uses RocketTemplate; orderly order holds per hash key', async () => {
    await createTopics('flow');
    const cfg = appConfig('flow');
    const props = cfg.properties as Record<string, string>;
    const app = await startApp(cfg, 'inversify app (flow)');
    expect(app.events()[0]).toMatchObject({
      event: 'ready',
      health: 'up',
      listeners: ['OrderListeners.onCreated', 'OrderListeners.onStep', 'AuditListener.onMessage'],
    });

    const orders = Array.from({ length: 30 }, (_, i) => ({ id: `o${i}`, amount: i * 10 }));
    await Promise.all(orders.map((o) => template.syncSend(`${props['orders.topic']}:Created`, o, { keys: o.id })));
    await template.syncSend(`${props['orders.topic']}:Ignored`, { id: 'not-for-us', amount: 0 });
    const keys = ['alpha', 'beta', 'gamma', 'delta'];
    await Promise.all(keys.map(async (key) => {
      for (let seq = 0; seq < 25; seq++) await template.syncSendOrderly(props['steps.topic']!, { key, seq }, key);
    }));

    const done = (listener: string) => app.events().filter((e) => e.event === 'done' && e.listener === listener);
    await waitFor('30 orders, 30 audit records, 100 steps', () => {
      const ev = app.events();
      return done('onCreated').length >= 30 && ev.filter((e) => e.event === 'audit').length >= 30 && done('onStep').length >= 100;
    }, { timeoutMs: 30_000 });
    expect(new Set(done('onCreated').map((e) => e.id))).toEqual(new Set(orders.map((o) => o.id)));
    expect(new Set(app.events().filter((e) => e.event === 'audit').map((e) => e.id))).toEqual(new Set(orders.map((o) => o.id)));
    for (const key of keys) {
      expect(done('onStep').filter((e) => e.key === key).map((e) => e.seq)).toEqual([...Array(25).keys()]);
    }
    const exit = await app.proc.stop(15_000);
    expect(exit.code).toBe(0);
    expect(app.events().some((e) => e.event === 'closed')).toBe(true);
  });

  it('SIGTERM with messages in flight loses nothing: each is consumed or redelivered after restart', async () => {
    await createTopics('drain');
    const cfg = appConfig('drain', { slowMs: 300, awaitTerminationMs: 150 });
    const props = cfg.properties as Record<string, string>;
    props['orders.threads'] = '4'; // 4 handlers at a time, so the backlog drains gradually
    const app1 = await startApp(cfg, 'inversify app (drain 1)');

    const orderIds = Array.from({ length: 40 }, (_, i) => `d${i}`);
    const keys = ['k1', 'k2', 'k3'];
    const stepIds = keys.flatMap((k) => Array.from({ length: 10 }, (_, s) => `step:${k}:${s}`));
    await Promise.all(orderIds.map((id) => template.syncSend(`${props['orders.topic']}:Created`, { id, amount: 1 })));
    await Promise.all(keys.map(async (key) => {
      for (let seq = 0; seq < 10; seq++) await template.syncSendOrderly(props['steps.topic']!, { key, seq }, key);
    }));

    // Stop mid-backlog while handlers are running (300 ms each, drain bound 150 ms).
    await waitFor('some messages done', () => app1.events().filter((e) => e.event === 'done').length >= 10, { timeoutMs: 20_000, intervalMs: 20 });
    const sigtermAt = Date.now();
    const exit1 = await app1.proc.stop(15_000);
    const stopWallMs = Date.now() - sigtermAt;
    expect(exit1.code).toBe(0);
    const closed = app1.events().find((e) => e.event === 'closed')!;
    expect(closed).toBeDefined();
    // The drain is bounded: awaitTerminationMs (150) + offset persist + close, far below the 400 ms handlers x backlog.
    expect(closed.stopMs!).toBeLessThan(5_000);
    expect(stopWallMs).toBeLessThan(10_000);
    const inFlightAtStop = closed.inFlight!;
    expect(inFlightAtStop.length).toBeGreaterThan(0);

    const doneIn = (events: AppEvent[]) => new Set(events.filter((e) => e.event === 'done').map((e) => (e.listener === 'onCreated' ? `order:${e.id}` : e.id!)));
    const done1 = doneIn(app1.events());
    expect(done1.size).toBeGreaterThanOrEqual(10);
    expect(done1.size).toBeLessThan(orderIds.length + stepIds.length);

    const app2 = await startApp(cfg, 'inversify app (drain 2)');
    const expected = [...orderIds.map((id) => `order:${id}`), ...stepIds];
    await waitFor('every message consumed by app1 or app2', () => {
      const all = new Set([...done1, ...doneIn(app2.events())]);
      return expected.every((id) => all.has(id));
    }, { timeoutMs: 45_000 });
    const done2 = doneIn(app2.events());
    // What app1 abandoned mid-handler came back to app2.
    for (const id of inFlightAtStop) expect(done2.has(id)).toBe(true);
    // Orderly after restart: per key, app2 continues in sequence from where app1's committed offset was.
    for (const key of keys) {
      const seqs = app2.events().filter((e) => e.event === 'done' && e.key === key).map((e) => e.seq!);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const union = new Set([...app1.events(), ...app2.events()].filter((e) => e.event === 'done' && e.key === key).map((e) => e.seq));
      expect(union.size).toBe(10);
    }
    expect((await app2.proc.stop(15_000)).code).toBe(0);
  });

  it('registration errors are clear: ORDERLY + BROADCASTING, missing topic / group, unknown option', async () => {
    @injectable()
    class OrderlyBroadcast {
      @RocketListener({ topic: 'T', group: 'g', orderly: true, messageModel: 'BROADCASTING' })
      on(): void {}
    }
    @injectable()
    class MissingTopic {
      @RocketListener({ group: 'g' } as never)
      on(): void {}
    }
    @injectable()
    @RocketListener({ topic: 'T' } as never)
    class MissingGroup {
      onMessage(): void {}
    }
    @injectable()
    class UnknownOption {
      @RocketListener({ topic: 'T', group: 'g', consumeThreadCount: 4 } as never)
      on(): void {}
    }
    const cases: Array<[new () => object, RegExp]> = [
      [OrderlyBroadcast, /@RocketListener on OrderlyBroadcast\.on: option 'messageModel': ORDERLY consumption cannot be combined with BROADCASTING/],
      [MissingTopic, /@RocketListener on MissingTopic\.on: option 'topic': is required/],
      [MissingGroup, /@RocketListener on MissingGroup\.onMessage: option 'group': is required/],
      [UnknownOption, /@RocketListener on UnknownOption\.on: option 'consumeThreadCount': unknown option \(did you mean consumeThreadMax\?\)/],
    ];
    for (const [cls, message] of cases) {
      const container = new Container();
      await container.load(createRocketryContainerModule({ nameServer: rocketry.namesrvAddr!, env: false }));
      container.bind(cls).toSelf();
      const r = container.get(Rocketry);
      await expect(r.start(container)).rejects.toThrow(message);
      expect(r.health().consumers).toEqual([]);
    }
    // Bad configuration fails when the module is created.
    expect(() => createRocketryContainerModule({ nameServer: 'x:1', producer: { sendMessageTimeout: 'soon' as never }, env: false })).toThrow(
      /rocketmq\.producer\.send-message-timeout must be an integer >= 1, got "soon"/,
    );
  });

  it('the container module binds RocketTemplate and Producer; unbindAll() stops consumers', async () => {
    await createTopics('bind');
    const topic = `InvOrders_bind_${run}`;
    const got: unknown[] = [];
    @injectable()
    class Sink {
      @RocketListener({ topic, group: `inv-bind-cg-${run}`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
      on(p: unknown): void {
        got.push(p);
      }
    }
    const container = new Container();
    await container.load(createRocketryContainerModule({ nameServer: rocketry.namesrvAddr!, producer: { group: `inv-bind-pg-${run}` }, env: false }));
    container.bind(Sink).toSelf().inSingletonScope();
    const r = container.get(Rocketry);
    await r.start(container);
    const t = container.get(RocketTemplate);
    expect(container.get(Producer)).toBe(t.producer);
    await t.syncSend(topic, { hello: 'inversify' });
    await waitFor('delivery', () => got.length === 1, { timeoutMs: 15_000, intervalMs: 20 });
    expect(got).toEqual([{ hello: 'inversify' }]);
    expect(r.health().status).toBe('up');
    await container.unbindAll();
    expect(r.running).toBe(false);
    expect(r.health().consumers.every((c) => !c.running)).toBe(true);
    expect(t.producer.running).toBe(false);
  });
});
