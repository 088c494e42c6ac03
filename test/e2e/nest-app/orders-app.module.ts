/**
 * A small NestJS application used by the NestJS e2e suite, in process and as a child process
 * (main.ts): several `@RocketListener` methods (concurrent and orderly, JSON payloads), RocketTemplate,
 * a global interceptor, a global pipe plus a parameter pipe, and a global exception filter.
 * Everything is recorded in the Journal (and printed as JSON lines when `jsonl` is on).
 */
import 'reflect-metadata';
import {
  Catch,
  Inject,
  Injectable,
  Module,
  type ArgumentsHost,
  type CallHandler,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { getRocketArgs, RocketListener, RocketMessage, RocketModule, RocketPayload, RocketTemplate, type MessageExt } from '@rocketry/nestjs';
import type { Observable } from 'rxjs';
import { tap } from 'rxjs/operators';

export interface OrdersAppConfig {
  nameServer: string;
  producerGroup: string;
  ordersTopic: string;
  ordersGroup: string;
  /** Orderly listener (omit to leave it out). */
  seqTopic?: string;
  seqGroup?: string;
  /** Listener whose handler always throws (omit to leave it out). */
  failTopic?: string;
  failGroup?: string;
  /** Per-message handler time of the orders listener. */
  handlerDelayMs: number;
  consumeThreadMax: number;
  /** Drain bound at shutdown. */
  awaitTerminationMs: number;
  /** Print journal events as JSON lines on stdout. */
  jsonl: boolean;
}

export interface OrderPayload {
  id: string;
  amount: number;
}

export interface SeqPayload {
  key: string;
  seq: number;
}

export type JournalEvent =
  | { event: 'started'; id: string; t: number }
  | { event: 'consumed'; handler: string; id: string; msgId: string; reconsumeTimes: number; piped: boolean; t: number }
  | { event: 'seq'; key: string; seq: number; queueId: number; t: number }
  | { event: 'intercepted'; handler: string; type: string; t: number }
  | { event: 'piped'; type: string; t: number }
  | { event: 'filtered'; error: string; type: string; handler: string; reconsumeTimes: number; t: number };

export const APP_CONFIG = Symbol('OrdersAppConfig');

@Injectable()
export class Journal {
  readonly events: JournalEvent[] = [];
  constructor(@Inject(APP_CONFIG) private readonly cfg: OrdersAppConfig) {}
  record(e: JournalEvent): void {
    if (this.events.length < 100_000) this.events.push(e);
    if (this.cfg.jsonl) process.stdout.write(`${JSON.stringify(e)}\n`);
  }
  of<K extends JournalEvent['event']>(kind: K): Extract<JournalEvent, { event: K }>[] {
    return this.events.filter((e): e is Extract<JournalEvent, { event: K }> => e.event === kind);
  }
}

/** Global interceptor: records each handler call with its context type. */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(@Inject(Journal) private readonly journal: Journal) {}
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = `${ctx.getClass().name}.${ctx.getHandler().name}`;
    const type = ctx.getType<string>();
    return next.handle().pipe(tap(() => this.journal.record({ event: 'intercepted', handler, type, t: Date.now() })));
  }
}

/** Global pipe: checks JSON order payloads and marks them, so the handler can prove the pipe ran. */
@Injectable()
export class OrderShapePipe implements PipeTransform {
  constructor(@Inject(Journal) private readonly journal: Journal) {}
  transform(value: unknown, meta: { type: string }): unknown {
    if (meta.type !== 'body') return value;
    this.journal.record({ event: 'piped', type: meta.type, t: Date.now() });
    if (value !== null && typeof value === 'object' && 'id' in value) return { ...value, piped: true };
    return value;
  }
}

/** Parameter pipe: amounts arrive as numbers; a string amount would be a producer bug. */
export class AmountPipe implements PipeTransform {
  transform(value: unknown): unknown {
    const v = value as OrderPayload;
    if (typeof v?.amount !== 'number') throw new TypeError(`order ${String(v?.id)} has no numeric amount`);
    return v;
  }
}

export class OrderRejectedError extends Error {}

/** Global exception filter: records handler errors; acknowledges after the first redelivery. */
@Catch()
@Injectable()
export class RecordingFilter implements ExceptionFilter {
  constructor(@Inject(Journal) private readonly journal: Journal) {}
  catch(err: Error, host: ArgumentsHost): unknown {
    const { message, context } = getRocketArgs(host);
    this.journal.record({ event: 'filtered', error: err.message, type: host.getType(), handler: context.handlerName, reconsumeTimes: message.reconsumeTimes, t: Date.now() });
    // Returning nothing lets the error through (retry); a status acknowledges.
    return message.reconsumeTimes >= 1 ? 'CONSUME_SUCCESS' : undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Injectable()
export class OrdersListener {
  constructor(
    @Inject(Journal) private readonly journal: Journal,
    @Inject(APP_CONFIG) private readonly cfg: OrdersAppConfig,
  ) {}

  @RocketListener({
    topic: '${app.orders-topic}',
    group: '${app.orders-group}',
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    consumeThreadMax: '${app.consume-thread-max:20}',
  })
  async onOrder(@RocketPayload(AmountPipe) order: OrderPayload & { piped?: boolean }, @RocketMessage() msg: MessageExt): Promise<void> {
    this.journal.record({ event: 'started', id: order.id, t: Date.now() });
    if (this.cfg.handlerDelayMs > 0) await sleep(this.cfg.handlerDelayMs);
    this.journal.record({ event: 'consumed', handler: 'onOrder', id: order.id, msgId: msg.msgId, reconsumeTimes: msg.reconsumeTimes, piped: order.piped === true, t: Date.now() });
  }
}

@Injectable()
export class SequenceListener {
  constructor(@Inject(Journal) private readonly journal: Journal) {}

  @RocketListener({ topic: '${app.seq-topic}', group: '${app.seq-group}', orderly: true, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  async onSequence(@RocketPayload() ev: SeqPayload, @RocketMessage() msg: MessageExt): Promise<void> {
    // A little jitter so out-of-order processing would show if ordering were broken.
    await sleep(Math.floor(Math.random() * 3));
    this.journal.record({ event: 'seq', key: ev.key, seq: ev.seq, queueId: msg.queueId, t: Date.now() });
  }

  @RocketListener({ topic: '${app.fail-topic}', group: '${app.fail-group}', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', delayLevelWhenNextConsume: 1 })
  onRejected(@RocketPayload() order: OrderPayload): void {
    throw new OrderRejectedError(`order ${order.id} rejected`);
  }
}

/** Sends through RocketTemplate (what the app's own code would do). */
@Injectable()
export class OrdersPublisher {
  constructor(
    @Inject(RocketTemplate) private readonly template: RocketTemplate,
    @Inject(APP_CONFIG) private readonly cfg: OrdersAppConfig,
  ) {}

  async sendOrders(ids: readonly string[]): Promise<void> {
    // Asynchronous sends in small batches of promises (bounded in flight).
    for (let i = 0; i < ids.length; i += 32) {
      await Promise.all(ids.slice(i, i + 32).map((id, j) => this.template.asyncSend(`${this.cfg.ordersTopic}:created`, { id, amount: i + j }, { keys: id })));
    }
  }

  async sendSequence(keys: readonly string[], perKey: number): Promise<void> {
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) await this.template.syncSendOrderly(this.cfg.seqTopic!, { key, seq }, key);
    }
  }

  async sendRejected(id: string): Promise<void> {
    await this.template.syncSend(this.cfg.failTopic!, { id, amount: 1 });
  }
}

@Module({})
export class OrdersAppModule {
  static forConfig(cfg: OrdersAppConfig): DynamicModule {
    const properties: Record<string, string | number> = {
      'app.orders-topic': cfg.ordersTopic,
      'app.orders-group': cfg.ordersGroup,
      'app.consume-thread-max': cfg.consumeThreadMax,
    };
    const providers: DynamicModule['providers'] = [
      { provide: APP_CONFIG, useValue: cfg },
      Journal,
      OrdersListener,
      OrdersPublisher,
      { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      { provide: APP_PIPE, useClass: OrderShapePipe },
      { provide: APP_FILTER, useClass: RecordingFilter },
    ];
    if (cfg.seqTopic && cfg.failTopic) {
      Object.assign(properties, { 'app.seq-topic': cfg.seqTopic, 'app.seq-group': cfg.seqGroup, 'app.fail-topic': cfg.failTopic, 'app.fail-group': cfg.failGroup });
      providers.push(SequenceListener);
    }
    return {
      module: OrdersAppModule,
      imports: [
        RocketModule.forRoot({
          nameServer: cfg.nameServer,
          producer: { group: cfg.producerGroup },
          properties,
          env: false,
          awaitTerminationMs: cfg.awaitTerminationMs,
          consumerOptions: { rebalanceIntervalMs: 1_000, persistConsumerOffsetIntervalMs: 500 },
        }),
      ],
      providers,
    };
  }
}
