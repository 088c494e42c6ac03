/**
 * Consumer group settings (`SubscriptionGroupManager.java`): retry queue count, max reconsume times,
 * whether the group may consume / broadcast. Persisted to `<root>/config/subscriptionGroup.json`.
 * Groups are auto-created on first use when `autoCreateSubscriptionGroup` is on (the default).
 */
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import type { Clock } from '../common/clock';
import { systemClock } from '../common/clock';
import type { BrokerSettings } from '../config';
import { configFilePath, loadJsonFile, persistJsonFile } from '../common/config-file';
import type { DataVersion } from './topic-config-manager';

/** `SubscriptionGroupConfig.java`. */
export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
}

interface SubscriptionGroupFile {
  subscriptionGroupTable: Record<string, SubscriptionGroupConfig>;
  dataVersion: DataVersion;
}

export const DEFAULT_RETRY_QUEUE_NUMS = 1;
export const DEFAULT_RETRY_MAX_TIMES = 16;

export function newSubscriptionGroupConfig(groupName: string): SubscriptionGroupConfig {
  return {
    groupName,
    consumeEnable: true,
    consumeFromMinEnable: true,
    consumeBroadcastEnable: true,
    retryQueueNums: DEFAULT_RETRY_QUEUE_NUMS,
    retryMaxTimes: DEFAULT_RETRY_MAX_TIMES,
    brokerId: 0,
    whichBrokerWhenConsumeSlowly: 1,
    notifyConsumerIdsChangedEnable: true,
  };
}

/** Group names: the topic characters, short enough that `%RETRY%<group>` stays a valid topic (≤ 255). */
const GROUP_NAME = /^[%|a-zA-Z0-9_-]{1,248}$/;

/** Bound on auto-created groups so a client inventing group names cannot grow the table without limit. */
export const MAX_SUBSCRIPTION_GROUPS = 100_000;

export class SubscriptionGroupManager {
  private readonly table = new Map<string, SubscriptionGroupConfig>();
  private version: DataVersion;
  private readonly filePath: string;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(
    private readonly settings: Pick<BrokerSettings, 'storePathRootDir' | 'autoCreateSubscriptionGroup'>,
    opts: { logger?: Logger; clock?: Clock } = {},
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.filePath = configFilePath(settings.storePathRootDir, 'subscriptionGroup.json');
    this.version = { stateVersion: 0, timestamp: this.clock.now(), counter: 0 };
  }

  load(): void {
    const stored = loadJsonFile<SubscriptionGroupFile>(this.filePath);
    if (stored?.subscriptionGroupTable) {
      for (const [name, cfg] of Object.entries(stored.subscriptionGroupTable)) {
        this.table.set(name, { ...newSubscriptionGroupConfig(name), ...cfg, groupName: name });
      }
      if (stored.dataVersion) this.version = { ...stored.dataVersion };
    }
  }

  persist(): void {
    const subscriptionGroupTable: Record<string, SubscriptionGroupConfig> = {};
    for (const [name, cfg] of this.table) subscriptionGroupTable[name] = cfg;
    persistJsonFile(this.filePath, { subscriptionGroupTable, dataVersion: this.version } satisfies SubscriptionGroupFile);
  }

  /** The group's config; auto-created (and persisted) when missing and auto-creation is on, else undefined. */
  findSubscriptionGroupConfig(group: string): SubscriptionGroupConfig | undefined {
    const existing = this.table.get(group);
    if (existing) return existing;
    if (!this.settings.autoCreateSubscriptionGroup || this.table.size >= MAX_SUBSCRIPTION_GROUPS) return undefined;
    // The group's %RETRY%/%DLQ% topics are named after it, so it obeys the topic-name rule.
    if (!GROUP_NAME.test(group)) {
      this.logger.warn({ group }, 'subscription group not auto-created: invalid name');
      return undefined;
    }
    const cfg = newSubscriptionGroupConfig(group);
    this.table.set(group, cfg);
    this.logger.info({ group }, 'subscription group auto-created');
    this.bump();
    return cfg;
  }

  /** The group's config without auto-creating it. */
  getSubscriptionGroupConfig(group: string): SubscriptionGroupConfig | undefined {
    return this.table.get(group);
  }

  updateSubscriptionGroupConfig(cfg: Partial<SubscriptionGroupConfig> & { groupName: string }): SubscriptionGroupConfig {
    const merged = { ...newSubscriptionGroupConfig(cfg.groupName), ...this.table.get(cfg.groupName), ...cfg };
    this.table.set(cfg.groupName, merged);
    this.bump();
    return merged;
  }

  deleteSubscriptionGroupConfig(group: string): boolean {
    if (!this.table.delete(group)) return false;
    this.bump();
    return true;
  }

  allGroups(): Map<string, SubscriptionGroupConfig> {
    return new Map(this.table);
  }

  get dataVersion(): DataVersion {
    return { ...this.version };
  }

  private bump(): void {
    this.version = { stateVersion: this.version.stateVersion, timestamp: this.clock.now(), counter: this.version.counter + 1 };
    this.persist();
  }
}
