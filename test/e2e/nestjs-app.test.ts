/**
 * A real NestJS application (NestFactory.createApplicationContext) with @rocketry/nestjs against
 * `rocketry start` run as a separate process:
 * - several @RocketListener methods (concurrent + orderly, JSON payloads) fed by RocketTemplate;
 *   a global interceptor, a global pipe + a parameter pipe and a global exception filter run around
 *   the handlers with ExecutionContext type 'rocketmq'; orderly order holds per hash key;
 *   every handler is logged at boot; health reports up.
 * - the app as a child process: `app.close()` while messages are in flight loses nothing — every
 *   order is consumed before the close or redelivered after a restart (deliveries counted across both runs).
 */
import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { LoggerService, Type } from '@nestjs/common';
import { Inject, Injectable, Module } from '@nestjs/common';
import { RocketHealthIndicator, RocketListener, RocketModule, RocketTemplate } from '@rocketry/nestjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, killAllChildren, spawnNode, type ManagedChild } from '../helpers/child-process';
import { REPO_ROOT, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, SHORT_DELAY_LEVELS } from '../helpers/topics';
import { Journal, OrdersAppModule, OrdersPublisher, type JournalEvent, type OrdersAppConfig } from './nest-app/orders-app.module';

const MAIN = path.join(REPO_ROOT, 'test', 'e2e', 'nest-app', 'main.ts');

class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string): void {
    this.lines.push(`[${context ?? ''}] ${String(message)}`);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`ERROR ${String(message)} ${rest.map(String).join(' ')}`);
  }
  warn(message: unknown, context?: string): void {
    this.lines.push(`WARN [${context ?? ''}] ${String(message)}`);
  }
}

describe('NestJS app with @rocketry/nestjs against rocketry start (separate process)', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;
  let ns: string;
  let broker: string;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    dir = tempDir('e2e-nestjs');
    rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, settings: { messageDelayLevel: SHORT_DELAY_LEVELS }, name: 'rocketry start (nestjs e2e)' });
    ns = rocketry.namesrvAddr!;
    broker = rocketry.brokerAddr!;
    probe = new ProtocolProbe();
  });

  afterAll(async () => {
    probe?.close();
    try {
      if (rocketry) await rocketry.stop(15_000);
    } finally {
      await killAllChildren();
      dir?.cleanup();
    }
  });

  it('messages flow through listeners with interceptor, pipes and filter; orderly order holds per key', async () => {
    const cfg: OrdersAppConfig = {
      nameServer: ns,
      producerGroup: `PG_NEST_${run}`,
      ordersTopic: `NEST_ORDERS_${run}`,
      ordersGroup: `CG_NEST_ORDERS_${run}`,
      seqTopic: `NEST_SEQ_${run}`,
      seqGroup: `CG_NEST_SEQ_${run}`,
      failTopic: `NEST_FAIL_${run}`,
      failGroup: `CG_NEST_FAIL_${run}`,
      handlerDelayMs: 2,
      consumeThreadMax: 8,
      awaitTerminationMs: 2_000,
      jsonl: false,
    };
    for (const t of [cfg.ordersTopic, cfg.seqTopic!, cfg.failTopic!]) await ensureTopic(probe, broker, [ns], t, 4);
    const logger = new CapturingLogger();
    const app = await NestFactory.createApplicationContext(OrdersAppModule.forConfig(cfg), { logger, abortOnError: false });
    try {
      // Every discovered handler was logged at boot with topic, group and mode.
      const boot = logger.lines.filter((l) => l.includes('@RocketListener'));
      expect(boot).toHaveLength(3);
      expect(boot.join('\n')).toContain(`OrdersListener.onOrder → topic=${cfg.ordersTopic} selector="*" group=${cfg.ordersGroup} mode=CONCURRENTLY/CLUSTERING`);
      expect(boot.join('\n')).toContain(`SequenceListener.onSequence → topic=${cfg.seqTopic} selector="*" group=${cfg.seqGroup} mode=ORDERLY/CLUSTERING`);
      expect(boot.join('\n')).toContain(`SequenceListener.onRejected → topic=${cfg.failTopic}`);

      const journal = app.get(Journal);
      const publisher = app.get(OrdersPublisher);
      const orderIds = Array.from({ length: 200 }, (_, i) => `o-${i}`);
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
      const perKey = 30;
      await publisher.sendOrders(orderIds);
      await publisher.sendSequence(keys, perKey);
      await publisher.sendRejected('bad-1');

      await waitFor('all orders consumed', () => new Set(journal.of('consumed').map((e) => e.id)).size === orderIds.length || undefined, { timeoutMs: 30_000 });
      await waitFor('all sequence messages', () => journal.of('seq').length >= keys.length * perKey || undefined, { timeoutMs: 30_000 });
      await waitFor('rejected order filtered twice', () => journal.of('filtered').length >= 2 || undefined, { timeoutMs: 30_000 });

      const consumed = journal.of('consumed');
      expect(new Set(consumed.map((e) => e.id))).toEqual(new Set(orderIds));
      // The global pipe ran on every @RocketPayload parameter (it marks the payload).
      expect(consumed.every((e) => e.piped)).toBe(true);
      expect(journal.of('piped').every((p) => p.type === 'body')).toBe(true);
      // The global interceptor ran around every successful handler call, with the custom context type.
      const intercepted = journal.of('intercepted');
      expect(intercepted.every((i) => i.type === 'rocketmq')).toBe(true);
      expect(intercepted.filter((i) => i.handler === 'OrdersListener.onOrder').length).toBe(consumed.length);
      expect(intercepted.filter((i) => i.handler === 'SequenceListener.onSequence').length).toBe(journal.of('seq').length);

      // Orderly: per hash key, seq arrives 0..perKey-1 in order, from one queue.
      const seq = journal.of('seq');
      for (const key of keys) {
        const forKey = seq.filter((e) => e.key === key);
        expect(forKey.map((e) => e.seq)).toEqual(Array.from({ length: perKey }, (_, i) => i));
        expect(new Set(forKey.map((e) => e.queueId)).size).toBe(1);
      }

      // The exception filter saw the handler error (type rocketmq), let the first attempt retry and acknowledged the redelivery.
      const filtered = journal.of('filtered');
      expect(filtered.map((f) => [f.type, f.handler, f.reconsumeTimes, f.error])).toEqual([
        ['rocketmq', 'SequenceListener.onRejected', 0, 'order bad-1 rejected'],
        ['rocketmq', 'SequenceListener.onRejected', 1, 'order bad-1 rejected'],
      ]);

      const health = app.get(RocketHealthIndicator).isHealthy();
      expect(health.rocketmq.status).toBe('up');
      expect(health.rocketmq.consumers).toHaveLength(3);
      const ordersHealth = health.rocketmq.consumers.find((c) => c.group === cfg.ordersGroup)!;
      expect(ordersHealth.consumed).toBe(consumed.length);
      // 4 queues of the topic + the group's retry queue.
      expect(ordersHealth.assignedQueues).toBeGreaterThanOrEqual(4);
    } finally {
      await app.close();
    }
    expect(logger.lines.some((l) => l.includes('consumers and producer closed'))).toBe(true);
  });

  // Slow handlers (400 ms) and the app closed mid-stream. Bound 100 ms: the in-flight handlers are cut off,
  // not acknowledged, and redelivered after the restart. Bound 5000 ms: they all finish during the close,
  // their offsets are committed, and the restart does not deliver them again.
  it.each([
    { case: 'drain bound shorter than the handlers', awaitTerminationMs: 100 },
    { case: 'drain bound longer than the handlers', awaitTerminationMs: 5_000 },
  ])('app.close() with messages in flight loses nothing ($case): each is consumed or redelivered after restart', async ({ awaitTerminationMs }) => {
    const total = 200;
    const tag = `${run}_${awaitTerminationMs}`;
    const cfg = {
      nameServer: ns,
      producerGroup: `PG_NEST_CLOSE_${tag}`,
      ordersTopic: `NEST_CLOSE_${tag}`,
      ordersGroup: `CG_NEST_CLOSE_${tag}`,
      handlerDelayMs: 400,
      consumeThreadMax: 6,
      awaitTerminationMs,
      jsonl: true,
    };
    await ensureTopic(probe, broker, [ns], cfg.ordersTopic, 4);
    const start = (send: number, name: string, handlerDelayMs: number): ManagedChild =>
      spawnNode(['--import', 'tsx', MAIN, JSON.stringify({ ...cfg, send, handlerDelayMs })], { name, env: { NO_COLOR: '1' } });
    type ProcessEvent = { event: 'ready' | 'sent' | 'closing' | 'closed' | 'fatal'; ms?: number; consumedBeforeClose?: number };
    const events = (p: ManagedChild) => jsonLines<JournalEvent | ProcessEvent>(p.lines());
    const consumedIds = (p: ManagedChild) => events(p).filter((e): e is Extract<JournalEvent, { event: 'consumed' }> => e.event === 'consumed').map((e) => e.id);
    const startedIds = (p: ManagedChild) => events(p).filter((e): e is Extract<JournalEvent, { event: 'started' }> => e.event === 'started').map((e) => e.id);

    const first = start(total, 'nest app run 1', cfg.handlerDelayMs);
    await first.waitForLine((l) => l.includes('"event":"ready"') || l.includes('"event":"fatal"'), 60_000);
    await first.waitForLine((l) => l.includes('"event":"sent"') || l.includes('"event":"fatal"'), 60_000);
    await waitFor('some orders consumed in run 1', () => consumedIds(first).length >= 20 || undefined, { timeoutMs: 30_000 });
    const exit1 = await first.stop(30_000, 'SIGTERM');
    expect(exit1.code, first.output().slice(-3000)).toBe(0);
    const closed = events(first).find((e): e is ProcessEvent => e.event === 'closed');
    expect(closed).toBeDefined();
    const run1 = consumedIds(first);
    // The close happened mid-stream, with handlers running.
    expect(run1.length).toBeLessThan(total);
    const closing = events(first).find((e): e is ProcessEvent => e.event === 'closing');
    const consumedBeforeClose = closing?.consumedBeforeClose ?? 0;
    const finishedDuringClose = run1.length - consumedBeforeClose;
    const interrupted = startedIds(first).filter((id) => !run1.includes(id));
    // The app logged the handlers at boot and the ordered shutdown.
    expect(first.output()).toMatch(/@RocketListener OrdersListener\.onOrder → topic=NEST_CLOSE_/);
    expect(first.output()).toContain(`shutting down: stopping consumers (drain bound ${awaitTerminationMs} ms)`);

    const second = start(0, 'nest app run 2', 10);
    try {
      await second.waitForLine((l) => l.includes('"event":"ready"') || l.includes('"event":"fatal"'), 60_000);
      await waitFor('every order consumed across both runs', () => new Set([...run1, ...consumedIds(second)]).size === total || undefined, {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } finally {
      await second.stop(30_000, 'SIGTERM');
    }
    const run2 = consumedIds(second);
    const all = [...run1, ...run2];
    const distinct = new Set(all);
    const expected = Array.from({ length: total }, (_, i) => `o-${i}`);
    expect([...distinct].sort()).toEqual(expected.sort());
    expect(run2.length).toBeGreaterThan(0);
    const duplicates = all.length - distinct.size;
    if (awaitTerminationMs < cfg.handlerDelayMs) {
      // Cut off by the bound → not acknowledged → delivered again after the restart.
      expect(interrupted.length).toBeGreaterThan(0);
      for (const id of interrupted) expect(run2).toContain(id);
    } else {
      // Drained: every handler running at close finished, and nothing it finished comes back.
      expect(interrupted).toEqual([]);
      expect(finishedDuringClose).toBeGreaterThan(0);
      expect(duplicates).toBe(0);
    }
    console.log(
      `[nestjs e2e] app.close() in flight, bound ${awaitTerminationMs} ms: total=${total} run1=${run1.length} (finished during close=${finishedDuringClose}, cut off by the bound=${interrupted.length}, close ${closed!.ms ?? '?'} ms) run2=${run2.length} duplicates=${duplicates} lost=0`,
    );
  });

  it('registration errors reject the bootstrap with a clear message, and the started producer is closed', async () => {
    const spy: { template?: RocketTemplate } = {};
    @Injectable()
    class TemplateSpy {
      constructor(@Inject(RocketTemplate) t: RocketTemplate) {
        spy.template = t;
      }
    }
    class OrderlyBroadcast {
      @RocketListener({ topic: 'T', group: 'g', orderly: true, messageModel: 'BROADCASTING' })
      on(): void {}
    }
    class MissingGroup {
      @RocketListener({ topic: 'T' } as unknown as { topic: string; group: string })
      handle(): void {}
    }
    class UnknownOption {
      @RocketListener({ topic: 'T', group: 'g', maxRetries: 3 } as unknown as { topic: string; group: string })
      handle(): void {}
    }
    const boot = async (listener: Type<unknown>): Promise<Error> => {
      @Module({
        imports: [RocketModule.forRoot({ nameServer: ns, producer: { group: `PG_NEST_BAD_${run}` }, env: false })],
        providers: [TemplateSpy, listener],
      })
      class BadApp {}
      delete spy.template;
      const err = await NestFactory.createApplicationContext(BadApp, { logger: false, abortOnError: false }).then(
        () => new Error('bootstrap succeeded'),
        (e: unknown) => e as Error,
      );
      // The producer started in onModuleInit is closed again, so a failed app can exit.
      const started = spy.template as RocketTemplate | undefined;
      expect(started).toBeInstanceOf(RocketTemplate);
      expect(started?.producer.running).toBe(false);
      return err;
    };
    const e1 = await boot(OrderlyBroadcast);
    expect(e1.name).toBe('RocketListenerRegistrationError');
    expect(e1.message).toMatch(/@RocketListener on OrderlyBroadcast\.on: option 'messageModel': ORDERLY consumption cannot be combined with BROADCASTING/);
    expect((await boot(MissingGroup)).message).toMatch(/@RocketListener on MissingGroup\.handle: option 'group': is required/);
    expect((await boot(UnknownOption)).message).toMatch(/@RocketListener on UnknownOption\.handle: option 'maxRetries': unknown option \(did you mean maxReconsumeTimes\?\)/);
  });
});
