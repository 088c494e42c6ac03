/**
 * PushConsumer options: RocketMQ `DefaultMQPushConsumer` names and defaults (CONSUMER_DEFAULTS in
 * client-options.ts), validated once at construction.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { CONSUMER_DEFAULTS, localIpv4Address, type ClientOptions } from '../client-options';
import { MQClientError } from '../errors';
import type { AllocateMessageQueueStrategy } from './allocate-message-queue';
import type { Clock, ConsumeFromWhereName, MessageModelName } from './consumer-types';

export interface PushConsumerOptions extends ClientOptions {
  /** Consumer group. Required. */
  group: string;
  /** Default 'CLUSTERING'. */
  messageModel?: MessageModelName;
  /** Where a group without a stored offset starts. Default 'CONSUME_FROM_LAST_OFFSET'. */
  consumeFromWhere?: ConsumeFromWhereName;
  /** For CONSUME_FROM_TIMESTAMP: epoch ms (or a Date). Default now − 30 min. */
  consumeTimestamp?: number | Date;
  /** MessageListenerOrderly semantics. Default false. Not allowed with BROADCASTING. */
  orderly?: boolean;
  /** -1 (default) → 16 concurrently, unlimited orderly. After that: `%DLQ%<group>`. */
  maxReconsumeTimes?: number;
  /** Listener calls in flight at once. Default 20. */
  consumeThreadMax?: number;
  /** Messages asked per pull. Default 32. */
  pullBatchSize?: number;
  /** Pull of a queue pauses while it caches more messages than this. Default 1000. */
  pullThresholdForQueue?: number;
  /** ... or more body MiB than this. Default 100. */
  pullThresholdSizeForQueueMiB?: number;
  /** Concurrent: pull pauses while first and last cached offsets are further apart. Default 2000. */
  consumeConcurrentlyMaxSpan?: number;
  /** Orderly: pause of a queue after a failure, 10..30000. Default 1000. */
  suspendCurrentQueueTimeMillis?: number;
  /** Concurrent: initial `ctx.delayLevelWhenNextConsume` (-1 DLQ, 0 broker decides, > 0 level). Default 0. */
  delayLevelWhenNextConsume?: number;
  /** Default wait for in-flight listeners at shutdown. Default 1000. */
  awaitTerminationMillisWhenShutdown?: number;
  /** BROADCASTING: directory of the local offset file. Default `~/.rocketry_offsets/<clientIP>@<instanceName>/<group>`. */
  offsetStoreDir?: string;
  /** Rebalance period. Default 20000. */
  rebalanceIntervalMs?: number;
  /** Orderly: LOCK_BATCH_MQ renewal period. Default 20000. */
  lockRenewIntervalMs?: number;
  /** Orderly: a lock not renewed for this long is treated as lost. Default 30000. */
  lockMaxLiveTimeMs?: number;
  /** Back-off after a failed pull. Default 1000. */
  pullTimeDelayMillsWhenException?: number;
  /** Long-poll hold asked of the broker. Default 15000. */
  brokerSuspendMaxTimeMillis?: number;
  /** Client timeout of a long-poll pull (must exceed the hold). Default 30000. */
  consumerTimeoutMillisWhenSuspend?: number;
  /** Send the subscription with every pull (ali-ons does; Java relies on the heartbeat). Default true. */
  postSubscriptionWhenPull?: boolean;
  allocateMessageQueueStrategy?: AllocateMessageQueueStrategy;
  clock?: Clock;
}

export interface ResolvedPushConsumerOptions {
  group: string;
  messageModel: MessageModelName;
  consumeFromWhere: ConsumeFromWhereName;
  consumeTimestamp: number;
  orderly: boolean;
  maxReconsumeTimes: number;
  consumeThreadMax: number;
  pullBatchSize: number;
  pullThresholdForQueue: number;
  pullThresholdSizeForQueueBytes: number;
  consumeConcurrentlyMaxSpan: number;
  suspendCurrentQueueTimeMillis: number;
  delayLevelWhenNextConsume: number;
  awaitTerminationMillisWhenShutdown: number;
  offsetStoreDir: string;
  rebalanceIntervalMs: number;
  lockRenewIntervalMs: number;
  lockMaxLiveTimeMs: number;
  pullTimeDelayMillsWhenException: number;
  brokerSuspendMaxTimeMillis: number;
  consumerTimeoutMillisWhenSuspend: number;
  postSubscriptionWhenPull: boolean;
}

const MESSAGE_MODELS: readonly string[] = ['CLUSTERING', 'BROADCASTING'];
const FROM_WHERE: readonly string[] = ['CONSUME_FROM_LAST_OFFSET', 'CONSUME_FROM_FIRST_OFFSET', 'CONSUME_FROM_TIMESTAMP'];

function illegal(message: string): MQClientError {
  return new MQClientError('ILLEGAL_ARGUMENT', message);
}

function intIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw illegal(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  return v;
}

export function resolvePushConsumerOptions(opts: PushConsumerOptions): ResolvedPushConsumerOptions {
  if (!opts || typeof opts.group !== 'string' || opts.group.length === 0) throw illegal('group is required');
  if (!/^[%|a-zA-Z0-9_-]+$/.test(opts.group) || opts.group.length > 255) throw illegal(`group ${JSON.stringify(opts.group)} has illegal characters (allowed: ^[%|a-zA-Z0-9_-]+$)`);
  const messageModel = opts.messageModel ?? CONSUMER_DEFAULTS.messageModel;
  if (!MESSAGE_MODELS.includes(messageModel)) throw illegal(`messageModel must be CLUSTERING or BROADCASTING, got ${String(messageModel)}`);
  const consumeFromWhere = opts.consumeFromWhere ?? CONSUMER_DEFAULTS.consumeFromWhere;
  if (!FROM_WHERE.includes(consumeFromWhere)) throw illegal(`consumeFromWhere ${String(consumeFromWhere)} is not supported`);
  const orderly = opts.orderly ?? false;
  if (orderly && messageModel === 'BROADCASTING') {
    throw illegal('orderly consumption cannot be combined with BROADCASTING (queue locks and ordering exist only per group in CLUSTERING)');
  }
  const maxRaw = opts.maxReconsumeTimes ?? CONSUMER_DEFAULTS.maxReconsumeTimes;
  if (!Number.isInteger(maxRaw) || maxRaw < -1) throw illegal(`maxReconsumeTimes must be -1 or a non-negative integer, got ${String(opts.maxReconsumeTimes)}`);
  const maxReconsumeTimes = maxRaw === -1 ? (orderly ? Number.POSITIVE_INFINITY : CONSUMER_DEFAULTS.maxReconsumeTimesConcurrently) : maxRaw;
  const ts = opts.consumeTimestamp instanceof Date ? opts.consumeTimestamp.getTime() : opts.consumeTimestamp;
  if (ts !== undefined && !Number.isFinite(ts)) throw illegal('consumeTimestamp must be epoch ms or a Date');
  const delayLevel = opts.delayLevelWhenNextConsume ?? 0;
  if (!Number.isInteger(delayLevel) || delayLevel < -1) throw illegal(`delayLevelWhenNextConsume must be -1, 0 or a level, got ${String(delayLevel)}`);
  const suspendRetry = opts.consumerTimeoutMillisWhenSuspend ?? CONSUMER_DEFAULTS.consumerTimeoutMillisWhenSuspend;
  const suspend = opts.brokerSuspendMaxTimeMillis ?? CONSUMER_DEFAULTS.brokerSuspendMaxTimeMillis;
  if (suspendRetry <= suspend) throw illegal('consumerTimeoutMillisWhenSuspend must be larger than brokerSuspendMaxTimeMillis');
  const instanceForDir = opts.instanceName ?? 'DEFAULT';
  return {
    group: opts.group,
    messageModel,
    consumeFromWhere,
    consumeTimestamp: ts ?? Date.now() - CONSUMER_DEFAULTS.consumeTimestampBackMs,
    orderly,
    maxReconsumeTimes,
    consumeThreadMax: intIn('consumeThreadMax', opts.consumeThreadMax, CONSUMER_DEFAULTS.consumeThreadMax, 1, 1000),
    pullBatchSize: intIn('pullBatchSize', opts.pullBatchSize, CONSUMER_DEFAULTS.pullBatchSize, 1, 1024),
    pullThresholdForQueue: intIn('pullThresholdForQueue', opts.pullThresholdForQueue, CONSUMER_DEFAULTS.pullThresholdForQueue, 1, 65535),
    pullThresholdSizeForQueueBytes:
      intIn('pullThresholdSizeForQueueMiB', opts.pullThresholdSizeForQueueMiB, CONSUMER_DEFAULTS.pullThresholdSizeForQueueMiB, 1, 1024) * 1024 * 1024,
    consumeConcurrentlyMaxSpan: intIn('consumeConcurrentlyMaxSpan', opts.consumeConcurrentlyMaxSpan, CONSUMER_DEFAULTS.consumeConcurrentlyMaxSpan, 1, 65535),
    suspendCurrentQueueTimeMillis: intIn(
      'suspendCurrentQueueTimeMillis',
      opts.suspendCurrentQueueTimeMillis,
      CONSUMER_DEFAULTS.suspendCurrentQueueTimeMillis,
      10,
      30_000,
    ),
    delayLevelWhenNextConsume: delayLevel,
    awaitTerminationMillisWhenShutdown: intIn(
      'awaitTerminationMillisWhenShutdown',
      opts.awaitTerminationMillisWhenShutdown,
      CONSUMER_DEFAULTS.awaitTerminationMs,
      0,
      3_600_000,
    ),
    offsetStoreDir: opts.offsetStoreDir ?? path.join(os.homedir(), '.rocketry_offsets', `${opts.clientIP ?? localIpv4Address()}@${instanceForDir}`, opts.group),
    rebalanceIntervalMs: intIn('rebalanceIntervalMs', opts.rebalanceIntervalMs, CONSUMER_DEFAULTS.rebalanceIntervalMs, 100, 3_600_000),
    lockRenewIntervalMs: intIn('lockRenewIntervalMs', opts.lockRenewIntervalMs, CONSUMER_DEFAULTS.lockRenewIntervalMs, 100, 3_600_000),
    lockMaxLiveTimeMs: intIn('lockMaxLiveTimeMs', opts.lockMaxLiveTimeMs, CONSUMER_DEFAULTS.lockMaxLiveTimeMs, 100, 3_600_000),
    pullTimeDelayMillsWhenException: intIn(
      'pullTimeDelayMillsWhenException',
      opts.pullTimeDelayMillsWhenException,
      CONSUMER_DEFAULTS.pullTimeDelayMillsWhenException,
      1,
      600_000,
    ),
    brokerSuspendMaxTimeMillis: suspend,
    consumerTimeoutMillisWhenSuspend: suspendRetry,
    postSubscriptionWhenPull: opts.postSubscriptionWhenPull ?? true,
  };
}
