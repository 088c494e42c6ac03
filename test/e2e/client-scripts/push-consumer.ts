/**
 * Our PushConsumer in its own process, for cross-process e2e suites (run with `node --import tsx`).
 *
 *   node --import tsx push-consumer.ts '<json config>'
 *
 * config: { namesrvAddr, group, topic, subExpression?, orderly?, messageModel?, consumeFromWhere?, maxReconsumeTimes?,
 *           consumeThreadMax?, handlerDelayMs?, slowKeys?: Record<key, ms>, rebalanceIntervalMs?, lockRenewIntervalMs?,
 *           lockMaxLiveTimeMs?, persistConsumerOffsetIntervalMs?, instanceName?, awaitTerminationMs? }
 *
 * stdout, one JSON object per line:
 *   {"event":"ready","clientId":"ip@instance","pid":1}
 *   {"event":"start","key":"k","queueId":0,"queueOffset":3,"reconsumeTimes":0,"t":<epoch ms, fractional>,"inFlight":n}
 *   {"event":"done", ...same fields, "t":...}
 *   {"event":"rebalance","topic":"T","queues":[0,1],"consumerCount":2}
 *   {"event":"closed"}
 * SIGTERM: graceful shutdown, then exit 0.
 */
import { performance } from 'node:perf_hooks';
import { PushConsumer, type PushConsumerOptions } from '../../../framework/src/client/consumer/push-consumer';

interface Config {
  namesrvAddr: string;
  group: string;
  topic: string;
  subExpression?: string;
  orderly?: boolean;
  messageModel?: 'CLUSTERING' | 'BROADCASTING';
  consumeFromWhere?: PushConsumerOptions['consumeFromWhere'];
  maxReconsumeTimes?: number;
  consumeThreadMax?: number;
  handlerDelayMs?: number;
  slowKeys?: Record<string, number>;
  rebalanceIntervalMs?: number;
  lockRenewIntervalMs?: number;
  lockMaxLiveTimeMs?: number;
  persistConsumerOffsetIntervalMs?: number;
  instanceName?: string;
  awaitTerminationMs?: number;
}

function print(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const now = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const opts: PushConsumerOptions = {
    namesrvAddr: cfg.namesrvAddr,
    group: cfg.group,
    orderly: cfg.orderly ?? false,
    messageModel: cfg.messageModel ?? 'CLUSTERING',
    consumeFromWhere: cfg.consumeFromWhere ?? 'CONSUME_FROM_FIRST_OFFSET',
  };
  if (cfg.maxReconsumeTimes !== undefined) opts.maxReconsumeTimes = cfg.maxReconsumeTimes;
  if (cfg.consumeThreadMax !== undefined) opts.consumeThreadMax = cfg.consumeThreadMax;
  if (cfg.rebalanceIntervalMs !== undefined) opts.rebalanceIntervalMs = cfg.rebalanceIntervalMs;
  if (cfg.lockRenewIntervalMs !== undefined) opts.lockRenewIntervalMs = cfg.lockRenewIntervalMs;
  if (cfg.lockMaxLiveTimeMs !== undefined) opts.lockMaxLiveTimeMs = cfg.lockMaxLiveTimeMs;
  if (cfg.persistConsumerOffsetIntervalMs !== undefined) opts.persistConsumerOffsetIntervalMs = cfg.persistConsumerOffsetIntervalMs;
  if (cfg.instanceName !== undefined) opts.instanceName = cfg.instanceName;
  const consumer = new PushConsumer(opts);
  consumer.on('rebalance', (e) => print({ event: 'rebalance', topic: e.topic, queues: e.queues.map((q) => q.queueId), consumerCount: e.consumerCount }));
  let inFlight = 0;
  consumer.subscribe(cfg.topic, cfg.subExpression ?? '*');
  consumer.onMessage(async (msg) => {
    inFlight++;
    const base = { key: msg.keys[0] ?? null, queueId: msg.queueId, queueOffset: msg.queueOffset, reconsumeTimes: msg.reconsumeTimes, topic: msg.topic, msgId: msg.msgId };
    print({ event: 'start', ...base, t: now(), inFlight });
    const delay = (base.key !== null ? cfg.slowKeys?.[base.key] : undefined) ?? cfg.handlerDelayMs ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    inFlight--;
    print({ event: 'done', ...base, t: now() });
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(2), 20_000);
    await consumer.shutdown(cfg.awaitTerminationMs !== undefined ? { awaitTerminationMs: cfg.awaitTerminationMs } : {});
    clearTimeout(timer);
    print({ event: 'closed' });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());

  await consumer.start();
  print({ event: 'ready', clientId: consumer.clientId, pid: process.pid });
}

main().catch((err: unknown) => {
  print({ event: 'fatal', error: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
