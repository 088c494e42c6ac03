/**
 * RocketModule inside Test.createTestingModule with RocketTestingModule's embedded broker: discovery
 * of method and class listeners, enhancers around handlers (getType 'rocketmq'), param decorators and
 * pipes, exception filter, terminus health, forRootAsync, and registration errors at bootstrap.
 */
import 'reflect-metadata';
import {
  Catch,
  Controller,
  Inject,
  Injectable,
  Module,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { RocketListener, RocketTemplate, type EmbeddedBroker, type MessageExt } from '@rocketry/framework';
import type { Observable } from 'rxjs';
import { tap } from 'rxjs/operators';
import { afterEach, describe, expect, it } from 'vitest';
import { getRocketArgs, isRocketContext, RocketContext } from './rocket-context';
import { RocketHealthIndicator } from './rocket-health.indicator';
import { RocketMessage, RocketPayload } from './rocket-params.decorator';
import { RocketModule } from './rocket.module';
import { RocketTestingModule } from './rocket-testing.module';
import { ROCKET_EMBEDDED_BROKER } from './rocket.constants';

const FAST = { rebalanceIntervalMs: 500, pullTimeDelayMillsWhenException: 200 };

async function waitUntil<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Seen {
  handler: string;
  payload: unknown;
  msgId?: string;
  tags?: string | undefined;
}

@Injectable()
class Journal {
  readonly seen: Seen[] = [];
  readonly intercepted: Array<{ type: string; handler: string; payload: unknown; isRocket: boolean; ctxTopic: string }> = [];
  readonly piped: unknown[] = [];
  readonly filtered: Array<{ message: string; type: string; reconsumeTimes: number }> = [];
  readonly guarded: string[] = [];
}

@Injectable()
class RecordingInterceptor implements NestInterceptor {
  constructor(@Inject(Journal) private readonly journal: Journal) {}
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const type = ctx.getType<string>();
    if (type === 'rocketmq') {
      const { payload, context } = getRocketArgs(ctx);
      this.journal.intercepted.push({ type, handler: `${ctx.getClass().name}.${ctx.getHandler().name}`, payload, isRocket: isRocketContext(ctx), ctxTopic: context.topic });
    }
    return next.handle().pipe(tap(() => undefined));
  }
}

/** Global pipe: upper-cases `name` in object payloads ('body' params only). */
@Injectable()
class UpperNamePipe implements PipeTransform {
  constructor(@Inject(Journal) private readonly journal: Journal) {}
  transform(value: unknown, meta: { type: string }): unknown {
    if (meta.type !== 'body' || value === null || typeof value !== 'object') return value;
    this.journal.piped.push(value);
    const v = value as { name?: string };
    return typeof v.name === 'string' ? { ...v, name: v.name.toUpperCase() } : value;
  }
}

class PoisonError extends Error {}

@Catch(PoisonError)
class PoisonFilter implements ExceptionFilter {
  constructor(private readonly journal: Journal) {}
  catch(err: PoisonError, host: ArgumentsHost): unknown {
    const { message } = getRocketArgs(host);
    this.journal.filtered.push({ message: err.message, type: host.getType(), reconsumeTimes: message.reconsumeTimes });
    // Acknowledge after the second attempt, retry the first.
    return message.reconsumeTimes >= 1 ? 'CONSUME_SUCCESS' : undefined;
  }
}

class DenyTagGuard implements CanActivate {
  constructor(private readonly journal: Journal) {}
  canActivate(ctx: ExecutionContext): boolean {
    const { message } = getRocketArgs(ctx);
    this.journal.guarded.push(message.tags ?? '');
    return true;
  }
}

const JOURNAL = new Journal();

@Injectable()
class OrderHandlers {
  constructor(@Inject(Journal) private readonly journal: Journal) {}

  @RocketListener({ topic: 'SpecOrders', group: 'spec-orders', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  onOrder(@RocketPayload() order: { name: string }, @RocketMessage() msg: MessageExt): void {
    this.journal.seen.push({ handler: 'onOrder', payload: order, msgId: msg.msgId, tags: msg.tags });
  }

  @RocketListener({ topic: 'SpecPoison', group: 'spec-poison', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', delayLevelWhenNextConsume: 1 })
  @UseFilters(new PoisonFilter(JOURNAL))
  @UseGuards(new DenyTagGuard(JOURNAL))
  onPoison(payload: string, msg: MessageExt, ctx: RocketContext): void {
    this.journal.seen.push({ handler: 'onPoison', payload, msgId: msg.msgId });
    expect(ctx).toBeInstanceOf(RocketContext);
    throw new PoisonError(`bad ${payload}`);
  }
}

@Controller()
@RocketListener({ topic: 'SpecAudit', group: 'spec-audit', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', selector: 'TagA || TagB' })
class AuditController {
  constructor(@Inject(Journal) private readonly journal: Journal) {}
  onMessage(payload: unknown, msg: MessageExt): void {
    this.journal.seen.push({ handler: 'AuditController.onMessage', payload, tags: msg.tags });
  }
}

describe('RocketModule with RocketTestingModule (embedded broker)', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  it('discovers listeners, runs interceptor / pipe / guard / filter around them and reports health', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        RocketTestingModule.forRoot({
          producer: { group: 'spec-pg' },
          consumerOptions: FAST,
          broker: { topics: ['SpecOrders', 'SpecPoison', 'SpecAudit'], settings: { messageDelayLevel: '1s 1s 1s' } },
        }),
        TerminusModule,
      ],
      controllers: [AuditController],
      providers: [
        { provide: Journal, useValue: JOURNAL },
        OrderHandlers,
        { provide: APP_INTERCEPTOR, useClass: RecordingInterceptor },
        { provide: APP_PIPE, useClass: UpperNamePipe },
      ],
    }).compile();
    moduleRef.useLogger(false);
    const app = await moduleRef.init();

    const template = app.get(RocketTemplate);
    expect(template).toBeInstanceOf(RocketTemplate);
    const broker = app.get<EmbeddedBroker>(ROCKET_EMBEDDED_BROKER);
    expect(broker.namesrvAddr).toMatch(/^127\.0\.0\.1:\d+$/);

    await template.syncSend('SpecOrders:TagX', { name: 'alice' }, { keys: 'o-1' });
    await template.syncSend('SpecOrders', { name: 'bob' });
    await template.syncSend('SpecPoison', 'p1');
    await template.syncSend('SpecAudit:TagA', { audit: 1 });
    await template.syncSend('SpecAudit:TagC', { audit: 'filtered out by selector' });
    await template.syncSend('SpecAudit:TagB', { audit: 2 });

    await waitUntil('orders and audits', () => JOURNAL.seen.filter((s) => s.handler !== 'onPoison').length >= 4);
    await waitUntil('poison acknowledged by the filter after a retry', () => JOURNAL.filtered.length >= 2);

    const orders = JOURNAL.seen.filter((s) => s.handler === 'onOrder');
    // The global pipe ran on the @RocketPayload() parameter.
    expect(orders.map((o) => (o.payload as { name: string }).name).sort()).toEqual(['ALICE', 'BOB']);
    expect(JOURNAL.piped.length).toBeGreaterThanOrEqual(2);
    // Global interceptor saw every handler call with the rocketmq context type.
    expect(JOURNAL.intercepted.every((i) => i.type === 'rocketmq' && i.isRocket)).toBe(true);
    expect(new Set(JOURNAL.intercepted.map((i) => i.handler))).toEqual(new Set(['OrderHandlers.onOrder', 'OrderHandlers.onPoison', 'AuditController.onMessage']));
    expect(JOURNAL.intercepted.find((i) => i.handler === 'OrderHandlers.onOrder')?.ctxTopic).toBe('SpecOrders');
    // Class-level listener on a controller, with a tag selector.
    const audits = JOURNAL.seen.filter((s) => s.handler === 'AuditController.onMessage');
    expect(audits.map((a) => a.tags).sort()).toEqual(['TagA', 'TagB']);
    // Handler without param decorators got (payload, message, context); the filter saw the error twice
    // (first attempt retried, second acknowledged) and the guard ran before each.
    const poison = JOURNAL.seen.filter((s) => s.handler === 'onPoison');
    expect(poison.length).toBe(2);
    expect(poison[0]!.payload).toBe('p1');
    expect(JOURNAL.filtered.map((f) => [f.type, f.reconsumeTimes, f.message])).toEqual([
      ['rocketmq', 0, 'bad p1'],
      ['rocketmq', 1, 'bad p1'],
    ]);
    expect(JOURNAL.guarded.length).toBe(2);

    // Terminus health: up with per-consumer details.
    const health = app.get(HealthCheckService);
    const indicator = app.get(RocketHealthIndicator);
    const result = await health.check([() => indicator.isHealthy('rocketmq')]);
    expect(result.status).toBe('ok');
    const details = result.details['rocketmq'] as unknown as { producer: { running: boolean }; consumers: Array<{ group: string; running: boolean }> };
    expect(details.producer.running).toBe(true);
    expect(details.consumers.map((c) => c.group).sort()).toEqual(['spec-audit', 'spec-orders', 'spec-poison']);

    await app.close();
    moduleRef = undefined;
    // After close: producer and consumers stopped, the indicator says down.
    const after = indicator.isHealthy();
    expect(after.rocketmq.status).toBe('down');
    expect(after.rocketmq.producer?.running).toBe(false);
  });

  it('forRootAsync takes its options from a factory with injected dependencies', async () => {
    const CONFIG = Symbol('config');
    @Module({ providers: [{ provide: CONFIG, useValue: { group: 'async-pg' } }], exports: [CONFIG] })
    class ConfigModule {}
    const { startEmbeddedBroker } = await import('@rocketry/framework');
    const broker = await startEmbeddedBroker();
    try {
      moduleRef = await Test.createTestingModule({
        imports: [
          RocketModule.forRootAsync({
            imports: [ConfigModule],
            inject: [CONFIG],
            useFactory: (cfg: { group: string }) => ({ nameServer: broker.namesrvAddr, producer: { group: cfg.group }, env: false }),
          }),
        ],
      }).compile();
      await moduleRef.init();
      const template = moduleRef.get(RocketTemplate);
      expect(template.producer.group).toBe('async-pg');
      expect(template.producer.running).toBe(true);
      const r = await template.syncSend('AsyncTopic', { ok: true });
      expect(r.status).toBe('SEND_OK');
      await moduleRef.close();
      moduleRef = undefined;
      expect(template.producer.running).toBe(false);
    } finally {
      await broker.stop();
    }
  });
});

describe('consumer-only configuration', () => {
  it('without producer.group there is no RocketTemplate, listeners still run and health ignores the producer', async () => {
    const received: unknown[] = [];
    @Injectable()
    class OnlyConsumer {
      @RocketListener({ topic: 'OnlyConsumerTopic', group: 'only-consumer', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
      on(payload: unknown): void {
        received.push(payload);
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [RocketTestingModule.forRoot({ consumerOptions: FAST, broker: { topics: ['OnlyConsumerTopic'] } })],
      providers: [OnlyConsumer],
    }).compile();
    moduleRef.useLogger(false);
    try {
      await moduleRef.init();
      expect(moduleRef.get(RocketTemplate, { strict: false })).toBeUndefined();
      const health = moduleRef.get(RocketHealthIndicator).isHealthy('mq');
      expect(health.mq.status).toBe('up');
      expect(health.mq.producer).toBeNull();
      const broker = moduleRef.get<EmbeddedBroker>(ROCKET_EMBEDDED_BROKER);
      const { Producer } = await import('@rocketry/framework');
      const producer = new Producer({ namesrvAddr: broker.namesrvAddr, group: 'only-consumer-pg' });
      await producer.start();
      try {
        await producer.send({ topic: 'OnlyConsumerTopic', body: JSON.stringify({ plain: 'client' }) });
      } finally {
        await producer.shutdown();
      }
      await waitUntil('message from a plain client', () => received.length >= 1);
      // No contentType property (plain client): 'auto' still parses a JSON object body.
      expect(received).toEqual([{ plain: 'client' }]);
    } finally {
      await moduleRef.close();
    }
  });
});

describe('registration errors surface at bootstrap', () => {
  async function bootWith(listenerClass: new (...args: never[]) => unknown, options: Record<string, unknown> = {}): Promise<Error> {
    const moduleRef = await Test.createTestingModule({
      imports: [RocketModule.forRoot({ nameServer: '127.0.0.1:1', env: false, ...options })],
      providers: [listenerClass],
    }).compile();
    try {
      await moduleRef.init();
    } catch (err) {
      return err as Error;
    } finally {
      await moduleRef.close().catch(() => undefined);
    }
    throw new Error('bootstrap succeeded unexpectedly');
  }

  it('ORDERLY + BROADCASTING', async () => {
    class Bad {
      @RocketListener({ topic: 'T', group: 'g', orderly: true, messageModel: 'BROADCASTING' })
      on(): void {}
    }
    const err = await bootWith(Bad);
    expect(err.name).toBe('RocketListenerRegistrationError');
    expect(err.message).toMatch(/Bad\.on.*messageModel.*ORDERLY.*BROADCASTING/);
  });

  it('missing topic / group', async () => {
    class NoTopic {
      @RocketListener({ group: 'g' } as unknown as { topic: string; group: string })
      on(): void {}
    }
    expect((await bootWith(NoTopic)).message).toMatch(/NoTopic\.on: option 'topic': is required/);
    class NoGroup {
      @RocketListener({ topic: 'T' } as unknown as { topic: string; group: string })
      on(): void {}
    }
    expect((await bootWith(NoGroup)).message).toMatch(/NoGroup\.on: option 'group': is required/);
  });

  it('unknown listener option, with a suggestion', async () => {
    class Typo {
      @RocketListener({ topic: 'T', group: 'g', consumerGroup: 'x' } as unknown as { topic: string; group: string })
      on(): void {}
    }
    expect((await bootWith(Typo)).message).toMatch(/Typo\.on: option 'consumerGroup': unknown option \(did you mean group\?\)/);
  });

  it('unknown module option', async () => {
    await expect(
      Test.createTestingModule({ imports: [RocketModule.forRoot({ nameServer: 'x:1', producr: { group: 'g' } } as unknown as { nameServer: string })] }).compile(),
    ).rejects.toThrow(/unknown RocketModule option 'producr' \(did you mean producer\?\)/);
  });
});
