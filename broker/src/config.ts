/**
 * Broker and NameServer settings, named as RocketMQ names them (broker.conf / namesrv.conf), so an
 * operator can read them. Sources, lowest to highest precedence: defaults, config file, `--set k=v`
 * and CLI flags. Every value is validated with a clear error.
 */
import type { FlushDiskType } from './store/types';

export interface BrokerSettings {
  brokerClusterName: string;
  brokerName: string;
  brokerId: number;
  /** Address advertised to clients and written as STOREHOST. */
  brokerIP1: string;
  /** Interface the broker listens on. */
  listenHost: string;
  listenPort: number;
  /** `host:port;host:port`. Empty = no NameServer registration. */
  namesrvAddr: string;
  storePathRootDir: string;
  flushDiskType: FlushDiskType;
  flushIntervalCommitLog: number;
  syncFlushTimeout: number;
  messageDelayLevel: string;
  autoCreateTopicEnable: boolean;
  autoCreateSubscriptionGroup: boolean;
  defaultTopicQueueNums: number;
  maxMessageSize: number;
  mappedFileSizeCommitLog: number;
  /**
   * ConsumeQueue file size in BYTES, as in RocketMQ's broker.conf (20-byte entries, rounded up to whole
   * entries: see consumeQueueEntriesPerFile). Found by the compat matrix: this once counted entries.
   */
  mappedFileSizeConsumeQueue: number;
  maxHashSlotNum: number;
  maxIndexNum: number;
  fileReservedTime: number;
  deleteWhen: number;
  diskMaxUsedSpaceRatio: number;
  transactionCheckInterval: number;
  transactionTimeOut: number;
  transactionCheckMax: number;
  /** Refuse transactional (TRAN_MSG=true) sends with NO_PERMISSION (`BrokerConfig.rejectTransactionMessage`). */
  rejectTransactionMessage: boolean;
  registerNameServerPeriod: number;
  longPollingEnable: boolean;
  shortPollingTimeMills: number;
  /** Lease of LOCK_BATCH_MQ locks (rocketmq.broker.rebalance.lockMaxLiveTime). */
  rebalanceLockMaxLiveTime: number;
  /** Client channels idle longer than this are dropped (heartbeat expiry). */
  channelExpiredTimeout: number;
  /** Also listen on listenPort-2 for old clients with vipChannelEnabled. */
  fastListenPortEnable: boolean;
  maxFrameBytes: number;
}

export interface NamesrvSettings {
  listenHost: string;
  listenPort: number;
  /** Broker expiry without re-registration. */
  brokerChannelExpiredTime: number;
  scanNotActiveBrokerInterval: number;
  kvConfigPath: string;
  maxFrameBytes: number;
}

export const DEFAULT_MESSAGE_DELAY_LEVEL = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';

/** Bytes of one ConsumeQueue entry: CommitLog offset (8) + size (4) + tags code (8). */
const CQ_ENTRY_BYTES = 8 + 4 + 8;

/** RocketMQ `MessageStoreConfig.getMappedFileSizeConsumeQueue`: the byte size rounded up to whole entries. */
export function consumeQueueEntriesPerFile(mappedFileSizeConsumeQueueBytes: number): number {
  return Math.ceil(mappedFileSizeConsumeQueueBytes / CQ_ENTRY_BYTES);
}

export function defaultBrokerSettings(): BrokerSettings {
  return {
    brokerClusterName: 'DefaultCluster',
    brokerName: 'broker-a',
    brokerId: 0,
    brokerIP1: '127.0.0.1',
    listenHost: '0.0.0.0',
    listenPort: 10911,
    namesrvAddr: '127.0.0.1:9876',
    storePathRootDir: './data/store',
    flushDiskType: 'ASYNC_FLUSH',
    flushIntervalCommitLog: 500,
    syncFlushTimeout: 5000,
    messageDelayLevel: DEFAULT_MESSAGE_DELAY_LEVEL,
    autoCreateTopicEnable: true,
    autoCreateSubscriptionGroup: true,
    defaultTopicQueueNums: 4,
    maxMessageSize: 4 * 1024 * 1024,
    mappedFileSizeCommitLog: 1024 * 1024 * 1024,
    mappedFileSizeConsumeQueue: 300_000 * CQ_ENTRY_BYTES,
    maxHashSlotNum: 5_000_000,
    maxIndexNum: 20_000_000,
    fileReservedTime: 72,
    deleteWhen: 4,
    diskMaxUsedSpaceRatio: 90,
    transactionCheckInterval: 60_000,
    transactionTimeOut: 6_000,
    transactionCheckMax: 15,
    rejectTransactionMessage: false,
    registerNameServerPeriod: 30_000,
    longPollingEnable: true,
    shortPollingTimeMills: 1000,
    rebalanceLockMaxLiveTime: 60_000,
    channelExpiredTimeout: 120_000,
    fastListenPortEnable: false,
    maxFrameBytes: 16 * 1024 * 1024,
  };
}

export function defaultNamesrvSettings(): NamesrvSettings {
  return {
    listenHost: '0.0.0.0',
    listenPort: 9876,
    brokerChannelExpiredTime: 120_000,
    scanNotActiveBrokerInterval: 5_000,
    kvConfigPath: './data/namesrv/kvConfig.json',
    maxFrameBytes: 16 * 1024 * 1024,
  };
}

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type RawValue = string | number | boolean;

const NAME_PATTERN = /^[%|a-zA-Z0-9_-]{1,127}$/;

function coerce(key: string, current: unknown, value: RawValue): unknown {
  if (typeof current === 'number') {
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isFinite(n)) throw new SettingsError(`${key} must be a number, got "${value}"`);
    return n;
  }
  if (typeof current === 'boolean') {
    if (typeof value === 'boolean') return value;
    const s = String(value).trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
    throw new SettingsError(`${key} must be true or false, got "${value}"`);
  }
  return String(value).trim();
}

function applyRaw<T extends object>(kind: string, base: T, raw: Record<string, RawValue>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in out)) {
      const known = Object.keys(base).sort().join(', ');
      throw new SettingsError(`unknown ${kind} setting "${key}" (known: ${known})`);
    }
    out[key] = coerce(key, out[key], value);
  }
  return out as T;
}

function requireRange(key: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(`${key} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** Parses "1s 5s 10m 2h" into milliseconds per level (index 0 = level 1). */
export function parseDelayLevels(text: string): number[] {
  const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const parts = text.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) throw new SettingsError('messageDelayLevel is empty');
  return parts.map((p) => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(p);
    if (!m) throw new SettingsError(`messageDelayLevel entry "${p}" is not like 1s, 5m, 2h`);
    const n = Number(m[1]);
    return m[2] === 'ms' ? n : n * units[m[2]!]!;
  });
}

export function parseNamesrvAddr(text: string): string[] {
  return text
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((addr) => {
      if (!/^[^:\s]+:\d{1,5}$/.test(addr)) throw new SettingsError(`NameServer address "${addr}" is not host:port`);
      return addr;
    });
}

export function resolveBrokerSettings(raw: Record<string, RawValue> = {}, base = defaultBrokerSettings()): BrokerSettings {
  const s = applyRaw('broker', base, raw);
  if (s.flushDiskType !== 'ASYNC_FLUSH' && s.flushDiskType !== 'SYNC_FLUSH') {
    throw new SettingsError(`flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH, got "${s.flushDiskType}"`);
  }
  for (const key of ['brokerClusterName', 'brokerName'] as const) {
    if (!NAME_PATTERN.test(s[key])) throw new SettingsError(`${key} "${s[key]}" must match [%|a-zA-Z0-9_-]{1,127}`);
  }
  requireRange('listenPort', s.listenPort, 0, 65535);
  requireRange('brokerId', s.brokerId, 0);
  requireRange('defaultTopicQueueNums', s.defaultTopicQueueNums, 1, 1024);
  requireRange('maxMessageSize', s.maxMessageSize, 1, 64 * 1024 * 1024);
  requireRange('mappedFileSizeCommitLog', s.mappedFileSizeCommitLog, 4096);
  requireRange('mappedFileSizeConsumeQueue', s.mappedFileSizeConsumeQueue, 16 * CQ_ENTRY_BYTES);
  requireRange('diskMaxUsedSpaceRatio', s.diskMaxUsedSpaceRatio, 10, 95);
  requireRange('deleteWhen', s.deleteWhen, 0, 23);
  requireRange('maxHashSlotNum', s.maxHashSlotNum, 16);
  requireRange('maxIndexNum', s.maxIndexNum, 16);
  requireRange('maxFrameBytes', s.maxFrameBytes, 1024, 256 * 1024 * 1024);
  requireRange('transactionCheckInterval', s.transactionCheckInterval, 1);
  requireRange('transactionTimeOut', s.transactionTimeOut, 0);
  requireRange('transactionCheckMax', s.transactionCheckMax, 1);
  if (s.mappedFileSizeCommitLog < s.maxMessageSize + 4096) {
    throw new SettingsError(`mappedFileSizeCommitLog (${s.mappedFileSizeCommitLog}) must exceed maxMessageSize (${s.maxMessageSize}) plus record overhead`);
  }
  parseDelayLevels(s.messageDelayLevel);
  parseNamesrvAddr(s.namesrvAddr);
  return s;
}

export function resolveNamesrvSettings(raw: Record<string, RawValue> = {}, base = defaultNamesrvSettings()): NamesrvSettings {
  const s = applyRaw('namesrv', base, raw);
  requireRange('listenPort', s.listenPort, 0, 65535);
  requireRange('brokerChannelExpiredTime', s.brokerChannelExpiredTime, 1);
  requireRange('scanNotActiveBrokerInterval', s.scanNotActiveBrokerInterval, 1);
  return s;
}
