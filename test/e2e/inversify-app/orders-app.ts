/**
 * A plain-Node application wired with inversify and @rocketry/inversify, run as its own process by
 * test/e2e/inversify.test.ts:
 *
 *   node --import tsx orders-app.ts '<json config>'
 *
 * config: { namesrvAddr, producerGroup, properties: { 'orders.topic', 'orders.group', 'steps.topic',
 *           'steps.group', 'audit.topic', 'audit.group', 'orders.threads'? }, slowMs?, awaitTerminationMs? }
 *
 * Listeners (topics and groups come from ${placeholders}):
 *   OrderListeners.onCreated  concurrent, JSON order → forwards an audit record with RocketTemplate
 *   OrderListeners.onStep     orderly, JSON step {key, seq}
 *   AuditListener (class)     concurrent, onMessage(audit record)
 *
 * stdout, one JSON object per line:
 *   {"event":"ready","listeners":[...]}
 *   {"event":"start"|"done","listener":"onCreated"|"onStep","id":"...","key":"...","seq":n,"reconsumeTimes":n}
 *   {"event":"audit","id":"..."}
 *   {"event":"closed","stopMs":n,"inFlight":["id",...]}
 * SIGTERM: graceful bounded stop (Rocketry.stop), then exit 0.
 */
import 'reflect-metadata';
import { Container, inject, injectable } from 'inversify';
import { createRocketryContainerModule, Rocketry, RocketListener, RocketTemplate, type MessageExt } from '@rocketry/inversify';

interface AppConfig {
  namesrvAddr: string;
  producerGroup: string;
  properties: Record<string, string>;
  slowMs?: number;
  awaitTerminationMs?: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as AppConfig;
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inFlight = new Set<string>();

const SETTINGS = Symbol('settings');
interface Settings {
  slowMs: number;
  auditTopic: string;
}

interface Order {
  id: string;
  amount: number;
}
interface Step {
  key: string;
  seq: number;
}

@injectable()
class OrderListeners {
  constructor(
    @inject(RocketTemplate) private readonly template: RocketTemplate,
    @inject(SETTINGS) private readonly settings: Settings,
  ) {}

  @RocketListener({
    topic: '${orders.topic}',
    group: '${orders.group}',
    selector: 'Created',
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    consumeThreadMax: '${orders.threads:64}',
  })
  async onCreated(order: Order, msg: MessageExt): Promise<void> {
    const id = `order:${order.id}`;
    inFlight.add(id);
    emit({ event: 'start', listener: 'onCreated', id: order.id, reconsumeTimes: msg.reconsumeTimes });
    await sleep(this.settings.slowMs);
    await this.template.syncSend(`${this.settings.auditTopic}:Created`, { id: order.id, amount: order.amount });
    inFlight.delete(id);
    emit({ event: 'done', listener: 'onCreated', id: order.id, amount: order.amount, reconsumeTimes: msg.reconsumeTimes });
  }

  @RocketListener({ topic: '${steps.topic}', group: '${steps.group}', orderly: true, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  async onStep(step: Step, msg: MessageExt): Promise<void> {
    const id = `step:${step.key}:${step.seq}`;
    inFlight.add(id);
    emit({ event: 'start', listener: 'onStep', id, key: step.key, seq: step.seq, reconsumeTimes: msg.reconsumeTimes });
    await sleep(this.settings.slowMs);
    inFlight.delete(id);
    emit({ event: 'done', listener: 'onStep', id, key: step.key, seq: step.seq, queueId: msg.queueId, reconsumeTimes: msg.reconsumeTimes });
  }
}

@injectable()
@RocketListener({ topic: '${audit.topic}', group: '${audit.group}', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
class AuditListener {
  onMessage(record: { id: string }): void {
    emit({ event: 'audit', id: record.id });
  }
}

async function main(): Promise<void> {
  const container = new Container();
  await container.load(
    createRocketryContainerModule({
      nameServer: cfg.namesrvAddr,
      producer: { group: cfg.producerGroup },
      properties: cfg.properties,
      env: false,
      ...(cfg.awaitTerminationMs !== undefined ? { awaitTerminationMs: cfg.awaitTerminationMs } : {}),
      consumerOptions: { persistConsumerOffsetIntervalMs: 1000 },
    }),
  );
  container.bind<Settings>(SETTINGS).toConstantValue({ slowMs: cfg.slowMs ?? 0, auditTopic: cfg.properties['audit.topic']! });
  container.bind(OrderListeners).toSelf().inSingletonScope();
  container.bind(AuditListener).toSelf().inSingletonScope();

  const rocketry = container.get(Rocketry);
  const listeners = await rocketry.start(container);
  let stopStarted = 0;
  rocketry.enableShutdownHooks(['SIGTERM', 'SIGINT'], () => {
    emit({ event: 'closed', stopMs: Date.now() - stopStarted, inFlight: [...inFlight] });
    process.exit(0);
  });
  process.prependListener('SIGTERM', () => {
    stopStarted = Date.now();
  });
  emit({ event: 'ready', listeners: listeners.map((l) => l.id), health: rocketry.health().status });
}

main().catch((err: unknown) => {
  emit({ event: 'fatal', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
