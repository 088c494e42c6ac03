/**
 * Live producers per group (`ProducerManager.java`). The broker needs them to pick a channel for
 * CHECK_TRANSACTION_STATE (transaction check-backs go to any live member of the half message's PGROUP).
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import type { Channel } from '../../remoting/types';
import { type ClientChannelInfo, DEFAULT_CHANNEL_EXPIRED_TIMEOUT_MS } from './client-channel-info';

export interface ProducerManagerOptions {
  clock?: Clock;
  logger?: Logger;
  /** Default 120000. */
  channelExpiredTimeoutMs?: number;
  maxGroups?: number;
  maxChannelsPerGroup?: number;
}

export const DEFAULT_MAX_PRODUCER_GROUPS = 100_000;
export const DEFAULT_MAX_PRODUCER_CHANNELS_PER_GROUP = 10_000;

export class ProducerManager {
  /** group → Channel.id → info. */
  private readonly groups = new Map<string, Map<string, ClientChannelInfo>>();
  private readonly groupsByChannel = new Map<string, Set<string>>();
  /** Round-robin position per group for getAvailableChannel. */
  private readonly cursor = new Map<string, number>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly channelExpiredTimeoutMs: number;
  private readonly maxGroups: number;
  private readonly maxChannelsPerGroup: number;

  constructor(opts: ProducerManagerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.channelExpiredTimeoutMs = opts.channelExpiredTimeoutMs ?? DEFAULT_CHANNEL_EXPIRED_TIMEOUT_MS;
    this.maxGroups = opts.maxGroups ?? DEFAULT_MAX_PRODUCER_GROUPS;
    this.maxChannelsPerGroup = opts.maxChannelsPerGroup ?? DEFAULT_MAX_PRODUCER_CHANNELS_PER_GROUP;
  }

  /** Adds or refreshes a producer channel; false when a table bound refused it. */
  registerProducer(group: string, client: Omit<ClientChannelInfo, 'lastUpdateTimestamp'>): boolean {
    const now = this.clock.now();
    let table = this.groups.get(group);
    if (!table) {
      if (this.groups.size >= this.maxGroups) return false;
      table = new Map();
      this.groups.set(group, table);
    }
    const existing = table.get(client.channel.id);
    if (existing) {
      existing.lastUpdateTimestamp = now;
      existing.clientId = client.clientId;
      existing.language = client.language;
      existing.version = client.version;
      return true;
    }
    if (table.size >= this.maxChannelsPerGroup) return false;
    table.set(client.channel.id, { ...client, lastUpdateTimestamp: now });
    let groups = this.groupsByChannel.get(client.channel.id);
    if (!groups) {
      groups = new Set();
      this.groupsByChannel.set(client.channel.id, groups);
    }
    groups.add(group);
    this.logger.info({ group, clientId: client.clientId, channel: client.channel.remoteAddress }, 'producer registered');
    return true;
  }

  /** UNREGISTER_CLIENT: removes the channel (or, failing that, every channel of `clientId`) from the group. */
  unregisterProducer(group: string, channel: Channel, clientId: string): boolean {
    const table = this.groups.get(group);
    if (!table) return false;
    let removed = this.remove(group, table, channel.id);
    if (!removed) {
      for (const [id, info] of [...table]) if (info.clientId === clientId) removed = this.remove(group, table, id) || removed;
    }
    if (removed) this.logger.info({ group, clientId }, 'producer unregistered');
    return removed;
  }

  doChannelCloseEvent(channel: Channel): boolean {
    const groups = this.groupsByChannel.get(channel.id);
    if (!groups) return false;
    let removed = false;
    for (const group of [...groups]) {
      const table = this.groups.get(group);
      if (table && this.remove(group, table, channel.id)) removed = true;
    }
    this.groupsByChannel.delete(channel.id);
    return removed;
  }

  /** Drops (and closes) channels idle longer than channelExpiredTimeoutMs, and already-closed ones. */
  scanNotActiveChannel(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [group, table] of [...this.groups]) {
      for (const [id, info] of [...table]) {
        const idleMs = now - info.lastUpdateTimestamp;
        if (!info.channel.closed && idleMs <= this.channelExpiredTimeoutMs) continue;
        this.remove(group, table, id);
        dropped++;
        this.logger.warn({ group, clientId: info.clientId, channel: info.channel.remoteAddress, idleMs }, 'producer channel expired, removed');
        if (!info.channel.closed) info.channel.close('producer heartbeat expired');
      }
    }
    return dropped;
  }

  /** A live channel of the group (round-robin), e.g. for CHECK_TRANSACTION_STATE; undefined if none. */
  getAvailableChannel(group: string): Channel | undefined {
    const table = this.groups.get(group);
    if (!table || table.size === 0) return undefined;
    const infos = [...table.values()];
    const start = this.cursor.get(group) ?? 0;
    for (let i = 0; i < infos.length; i++) {
      const idx = (start + i) % infos.length;
      const info = infos[idx]!;
      if (!info.channel.closed) {
        this.cursor.set(group, idx + 1);
        return info.channel;
      }
    }
    return undefined;
  }

  /** Snapshot of a group's producers (admin / tests). */
  getGroupChannels(group: string): ClientChannelInfo[] {
    return [...(this.groups.get(group)?.values() ?? [])];
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  private remove(group: string, table: Map<string, ClientChannelInfo>, channelId: string): boolean {
    if (!table.delete(channelId)) return false;
    const groups = this.groupsByChannel.get(channelId);
    if (groups) {
      groups.delete(group);
      if (groups.size === 0) this.groupsByChannel.delete(channelId);
    }
    if (table.size === 0) {
      this.groups.delete(group);
      this.cursor.delete(group);
    }
    return true;
  }
}
