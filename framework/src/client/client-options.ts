/**
 * Client options with RocketMQ names and defaults, all in one place (`ClientConfig`,
 * `DefaultMQProducer`, `DefaultMQPushConsumer`; remoting-protocol.md §8.1). Durations carry their
 * unit in the name (`...Ms`); the RocketMQ name is given in each comment.
 */
import * as os from 'node:os';
import pino, { type Logger } from 'pino';
import { Instrumentation } from './instrumentation';

export type { Logger };

/** Options every client (producer or consumer) accepts. */
export interface ClientOptions {
  /** NameServer list: `'h1:9876;h2:9876'` (`;` or `,` separated) or an array. Required. */
  namesrvAddr: string | readonly string[];
  /** `instanceName`; `'DEFAULT'` becomes `pid#hrtime` (Java 4.9+ `changeInstanceNameToPID`). */
  instanceName?: string;
  /** `clientIP`; default: first non-internal IPv4 address, else 127.0.0.1. */
  clientIP?: string;
  /** `unitName`, appended to the clientId when set. */
  unitName?: string;
  /** `pollNameServerInterval`: route refresh period. Default 30000. */
  pollNameServerIntervalMs?: number;
  /** `heartbeatBrokerInterval`: heartbeat period. Default 30000. */
  heartbeatBrokerIntervalMs?: number;
  /** `persistConsumerOffsetInterval`: offset commit period. Default 5000. */
  persistConsumerOffsetIntervalMs?: number;
  /** `mqClientApiTimeout`: timeout of route/heartbeat/offset calls. Default 3000. */
  mqClientApiTimeoutMs?: number;
  /** TCP connect timeout. Default 3000. */
  connectTimeoutMs?: number;
  /**
   * Request header encoding (Java's `rocketmq.serialize.type`). Default `'ROCKETMQ'`: binary headers
   * are smaller and cheaper to encode and decode on both sides (+26% async sends against our broker);
   * every RocketMQ broker since 4.0 reads them (Apache answers in JSON, ours in kind). `'JSON'` is
   * the Java client's default, for a proxy that only reads JSON.
   */
  serializeType?: 'JSON' | 'ROCKETMQ';
  logger?: Logger;
  /** Shared event sink; one is created per client instance when absent. */
  instrumentation?: Instrumentation;
}

export const CLIENT_DEFAULTS = {
  instanceName: 'DEFAULT',
  pollNameServerIntervalMs: 30_000,
  heartbeatBrokerIntervalMs: 30_000,
  persistConsumerOffsetIntervalMs: 5_000,
  mqClientApiTimeoutMs: 3_000,
  connectTimeoutMs: 3_000,
  serializeType: 'ROCKETMQ',
} as const;

/** `DefaultMQProducer` defaults. */
export const PRODUCER_DEFAULTS = {
  /** `sendMsgTimeout`: budget of one send including its retries. */
  sendMsgTimeoutMs: 3_000,
  retryTimesWhenSendFailed: 2,
  retryTimesWhenSendAsyncFailed: 2,
  /** Bodies of at least this many bytes are zlib-compressed (level 5). */
  compressMsgBodyOverHowmuch: 4_096,
  compressLevel: 5,
  /** Body limit (and batch body limit) checked before sending. */
  maxMessageSize: 4 * 1024 * 1024,
  /** `createTopicKey`: template topic for broker-side auto-create. */
  createTopicKey: 'TBW102',
  defaultTopicQueueNums: 4,
  retryAnotherBrokerWhenNotStoreOK: false,
  /** How long a broker that just failed is avoided when another one can take the send. */
  brokerIsolationMs: 30_000,
  /** autoBatch: 0 = a batch holds what one event-loop turn sends (Java waits 10 ms). */
  batchMaxDelayMs: 0,
  batchMaxBytes: 32 * 1024,
} as const;

/** `DefaultMQPushConsumer` defaults (used by the push consumer; here so all defaults live together). */
export const CONSUMER_DEFAULTS = {
  messageModel: 'CLUSTERING',
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
  /** `consumeTimestamp` default is now − 30 min. */
  consumeTimestampBackMs: 30 * 60 * 1000,
  pullBatchSize: 32,
  consumeMessageBatchMaxSize: 1,
  consumeThreadMax: 20,
  pullThresholdForQueue: 1_000,
  pullThresholdSizeForQueueMiB: 100,
  consumeConcurrentlyMaxSpan: 2_000,
  /** −1 → 16 concurrently, unlimited orderly. */
  maxReconsumeTimes: -1,
  maxReconsumeTimesConcurrently: 16,
  suspendCurrentQueueTimeMillis: 1_000,
  consumeTimeoutMinutes: 15,
  pullTimeDelayMillsWhenException: 1_000,
  /** `BROKER_SUSPEND_MAX_TIME_MILLIS`: long-poll hold time asked of the broker. */
  brokerSuspendMaxTimeMillis: 15_000,
  /** `CONSUMER_TIMEOUT_MILLIS_WHEN_SUSPEND`: client timeout of a long-poll pull. */
  consumerTimeoutMillisWhenSuspend: 30_000,
  rebalanceIntervalMs: 20_000,
  /** `rocketmq.client.rebalance.lockInterval`. */
  lockRenewIntervalMs: 20_000,
  /** `rocketmq.client.rebalance.lockMaxLiveTime`: a local lock older than this counts as expired. */
  lockMaxLiveTimeMs: 30_000,
  awaitTerminationMs: 1_000,
} as const;

export interface ResolvedClientConfig {
  namesrvAddrs: string[];
  instanceName: string;
  clientIP: string;
  unitName: string | undefined;
  pollNameServerIntervalMs: number;
  heartbeatBrokerIntervalMs: number;
  persistConsumerOffsetIntervalMs: number;
  mqClientApiTimeoutMs: number;
  connectTimeoutMs: number;
  serializeType: 'JSON' | 'ROCKETMQ';
  logger: Logger;
  instrumentation: Instrumentation | undefined;
}

/** `'a;b'`, `'a,b'`, `['a','b']` → trimmed non-empty list. */
export function parseNamesrvAddrList(addr: string | readonly string[]): string[] {
  const parts = typeof addr === 'string' ? addr.split(/[;,]/) : addr.flatMap((a) => a.split(/[;,]/));
  return parts.map((a) => a.trim()).filter((a) => a.length > 0);
}

/** First non-internal IPv4 address (Java `RemotingUtil.getLocalAddress`), else 127.0.0.1. */
export function localIpv4Address(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const ni of list ?? []) {
      if (ni.family === 'IPv4' && !ni.internal) return ni.address;
    }
  }
  return '127.0.0.1';
}

/** `DEFAULT` → `pid#<hrtime>` so two clients in one process get different ids (Java 4.9+). */
export function resolveInstanceName(name: string | undefined): string {
  if (name === undefined || name === CLIENT_DEFAULTS.instanceName) {
    return `${process.pid}#${process.hrtime.bigint()}`;
  }
  return name;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${String(value)}`);
  return v;
}

const silent: Logger = pino({ level: 'silent' });

function serializeTypeOf(value: string | undefined): 'JSON' | 'ROCKETMQ' {
  if (value === undefined) return CLIENT_DEFAULTS.serializeType;
  if (value !== 'JSON' && value !== 'ROCKETMQ') throw new RangeError(`serializeType must be 'JSON' or 'ROCKETMQ', got ${String(value)}`);
  return value;
}

export function resolveClientConfig(opts: ClientOptions): ResolvedClientConfig {
  if (opts.namesrvAddr === undefined || opts.namesrvAddr === null) throw new TypeError('namesrvAddr is required');
  const namesrvAddrs = parseNamesrvAddrList(opts.namesrvAddr);
  if (namesrvAddrs.length === 0) throw new TypeError('namesrvAddr names no NameServer');
  return {
    namesrvAddrs,
    instanceName: resolveInstanceName(opts.instanceName),
    clientIP: opts.clientIP ?? localIpv4Address(),
    unitName: opts.unitName,
    pollNameServerIntervalMs: positive('pollNameServerIntervalMs', opts.pollNameServerIntervalMs, CLIENT_DEFAULTS.pollNameServerIntervalMs),
    heartbeatBrokerIntervalMs: positive('heartbeatBrokerIntervalMs', opts.heartbeatBrokerIntervalMs, CLIENT_DEFAULTS.heartbeatBrokerIntervalMs),
    persistConsumerOffsetIntervalMs: positive(
      'persistConsumerOffsetIntervalMs',
      opts.persistConsumerOffsetIntervalMs,
      CLIENT_DEFAULTS.persistConsumerOffsetIntervalMs,
    ),
    mqClientApiTimeoutMs: positive('mqClientApiTimeoutMs', opts.mqClientApiTimeoutMs, CLIENT_DEFAULTS.mqClientApiTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', opts.connectTimeoutMs, CLIENT_DEFAULTS.connectTimeoutMs),
    serializeType: serializeTypeOf(opts.serializeType),
    logger: opts.logger ?? silent,
    instrumentation: opts.instrumentation,
  };
}

/** `clientIP@instanceName[@unitName]` (`ClientConfig.buildMQClientId`). */
export function buildClientId(cfg: Pick<ResolvedClientConfig, 'clientIP' | 'instanceName' | 'unitName'>): string {
  return cfg.unitName ? `${cfg.clientIP}@${cfg.instanceName}@${cfg.unitName}` : `${cfg.clientIP}@${cfg.instanceName}`;
}
