/**
 * Live consumers per group (`ConsumerManager.java` + `ConsumerGroupInfo.java`): which channels belong to a
 * group, the group's consume type / message model / start point, and the subscriptions it announced in
 * HEART_BEAT (the Java push consumer omits the subscription in PULL_MESSAGE, so pulls look it up here).
 *
 * Any change of a group's channels or subscriptions is reported to a ConsumerIdsChangeListener, which in
 * production sends NOTIFY_CONSUMER_IDS_CHANGED to every channel of the group so its members rebalance at
 * once instead of at their next 10-20 s rebalance tick.
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import type { SubscriptionData } from '../../protocol/subscription';
import type { Channel } from '../../remoting/types';
import { type ClientChannelInfo, DEFAULT_CHANNEL_EXPIRED_TIMEOUT_MS } from './client-channel-info';

/** `SubscriptionData.java` as carried in HeartbeatData; a newer subVersion replaces, an older one is ignored. */
export type { SubscriptionData };

/** `CONSUME_ACTIVELY` (pull), `CONSUME_PASSIVELY` (push), `CONSUME_POP`. Kept as the client sent it. */
export type ConsumeType = string;
/** `CLUSTERING` | `BROADCASTING`. */
export type MessageModel = string;
/** `CONSUME_FROM_LAST_OFFSET`, `CONSUME_FROM_FIRST_OFFSET`, `CONSUME_FROM_TIMESTAMP`, ... */
export type ConsumeFromWhere = string;

export interface ConsumerIdsChangeListener {
  /** The group's channel set or subscriptions changed; `channels` are all channels still in the group. */
  onConsumerIdsChanged(group: string, channels: readonly Channel[]): void;
  /** The group's last channel left and the group was dropped. */
  onGroupUnregistered?(group: string): void;
}

export interface ConsumerRegistration {
  group: string;
  channel: Channel;
  clientId: string;
  language: string;
  version: number;
  consumeType: ConsumeType;
  messageModel: MessageModel;
  consumeFromWhere: ConsumeFromWhere;
  /** The full subscription set; undefined keeps the stored one (5.x heartbeat with `withoutSub`). */
  subscriptions: readonly SubscriptionData[] | undefined;
}

export type RegisterConsumerResult = { accepted: true; changed: boolean } | { accepted: false; reason: string };

export interface ConsumerManagerOptions {
  clock?: Clock;
  logger?: Logger;
  listener?: ConsumerIdsChangeListener;
  /** Channels silent for longer than this are dropped by scanNotActiveChannel. Default 120000. */
  channelExpiredTimeoutMs?: number;
  /** Table bounds, so clients inventing groups or topics cannot grow memory without limit. */
  maxGroups?: number;
  maxChannelsPerGroup?: number;
  maxSubscriptionsPerGroup?: number;
}

export const DEFAULT_MAX_CONSUMER_GROUPS = 100_000;
export const DEFAULT_MAX_CHANNELS_PER_GROUP = 10_000;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_GROUP = 10_000;

/** One consumer group's members and subscriptions. */
export class ConsumerGroupInfo {
  /** Keyed by Channel.id. */
  readonly channelInfoTable = new Map<string, ClientChannelInfo>();
  /** Keyed by topic. */
  readonly subscriptionTable = new Map<string, SubscriptionData>();
  lastUpdateTimestamp: number;

  constructor(
    readonly groupName: string,
    public consumeType: ConsumeType,
    public messageModel: MessageModel,
    public consumeFromWhere: ConsumeFromWhere,
    now: number,
  ) {
    this.lastUpdateTimestamp = now;
  }

  findSubscriptionData(topic: string): SubscriptionData | undefined {
    return this.subscriptionTable.get(topic);
  }

  /** Distinct client ids (one client may hold several channels, e.g. after a reconnect). */
  getAllClientIds(): string[] {
    const ids = new Set<string>();
    for (const info of this.channelInfoTable.values()) ids.add(info.clientId);
    return [...ids];
  }

  getAllChannels(): Channel[] {
    return [...this.channelInfoTable.values()].map((info) => info.channel);
  }

  /** The freshest live channel of a client. */
  findChannel(clientId: string): ClientChannelInfo | undefined {
    let best: ClientChannelInfo | undefined;
    for (const info of this.channelInfoTable.values()) {
      if (info.clientId !== clientId || info.channel.closed) continue;
      if (!best || info.lastUpdateTimestamp > best.lastUpdateTimestamp) best = info;
    }
    return best;
  }

  /** Adds or refreshes a channel; true when the channel is new to the group. */
  updateChannel(info: ClientChannelInfo, consumeType: ConsumeType, messageModel: MessageModel, consumeFromWhere: ConsumeFromWhere): boolean {
    this.consumeType = consumeType;
    this.messageModel = messageModel;
    this.consumeFromWhere = consumeFromWhere;
    const old = this.channelInfoTable.get(info.channel.id);
    let added = false;
    if (!old) {
      added = true;
      this.channelInfoTable.set(info.channel.id, info);
    } else if (old.clientId !== info.clientId) {
      // Same connection, new client id (client restarted its instance): treat as a membership change.
      added = true;
      this.channelInfoTable.set(info.channel.id, info);
    } else {
      old.lastUpdateTimestamp = info.lastUpdateTimestamp;
      old.language = info.language;
      old.version = info.version;
    }
    this.lastUpdateTimestamp = info.lastUpdateTimestamp;
    return added;
  }

  /**
   * Applies the subscription set of a heartbeat (`ConsumerGroupInfo.updateSubscription`): new topics are
   * added, topics missing from the set are removed, a newer subVersion replaces the stored one and an
   * older one is ignored. True when the set of topics or an expression changed.
   */
  updateSubscription(subs: readonly SubscriptionData[], now: number): boolean {
    let changed = false;
    const present = new Set<string>();
    for (const sub of subs) {
      present.add(sub.topic);
      const old = this.subscriptionTable.get(sub.topic);
      if (!old) {
        this.subscriptionTable.set(sub.topic, sub);
        changed = true;
      } else if (sub.subVersion > old.subVersion) {
        if (sub.subString !== old.subString || sub.expressionType !== old.expressionType) changed = true;
        this.subscriptionTable.set(sub.topic, sub);
      }
    }
    for (const topic of [...this.subscriptionTable.keys()]) {
      if (!present.has(topic)) {
        this.subscriptionTable.delete(topic);
        changed = true;
      }
    }
    this.lastUpdateTimestamp = now;
    return changed;
  }

  /** Removes one channel; true when it was a member. */
  removeChannel(channelId: string): boolean {
    return this.channelInfoTable.delete(channelId);
  }
}

export class ConsumerManager {
  private readonly groups = new Map<string, ConsumerGroupInfo>();
  /** Channel.id → groups it belongs to, so a channel close touches only its own groups. */
  private readonly groupsByChannel = new Map<string, Set<string>>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private listener: ConsumerIdsChangeListener | undefined;
  readonly channelExpiredTimeoutMs: number;
  private readonly maxGroups: number;
  private readonly maxChannelsPerGroup: number;
  private readonly maxSubscriptionsPerGroup: number;

  constructor(opts: ConsumerManagerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.listener = opts.listener;
    this.channelExpiredTimeoutMs = opts.channelExpiredTimeoutMs ?? DEFAULT_CHANNEL_EXPIRED_TIMEOUT_MS;
    this.maxGroups = opts.maxGroups ?? DEFAULT_MAX_CONSUMER_GROUPS;
    this.maxChannelsPerGroup = opts.maxChannelsPerGroup ?? DEFAULT_MAX_CHANNELS_PER_GROUP;
    this.maxSubscriptionsPerGroup = opts.maxSubscriptionsPerGroup ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_GROUP;
  }

  /** Replaces the change listener (the controller sets the notifying one once the server exists). */
  setListener(listener: ConsumerIdsChangeListener | undefined): void {
    this.listener = listener;
  }

  getConsumerGroupInfo(group: string): ConsumerGroupInfo | undefined {
    return this.groups.get(group);
  }

  findSubscriptionData(group: string, topic: string): SubscriptionData | undefined {
    return this.groups.get(group)?.findSubscriptionData(topic);
  }

  findChannel(group: string, clientId: string): ClientChannelInfo | undefined {
    return this.groups.get(group)?.findChannel(clientId);
  }

  getAllClientIds(group: string): string[] {
    return this.groups.get(group)?.getAllClientIds() ?? [];
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Groups with a subscription to `topic` (admin: who consumes this topic). */
  queryTopicConsumeByWho(topic: string): string[] {
    const out: string[] = [];
    for (const [name, info] of this.groups) if (info.subscriptionTable.has(topic)) out.push(name);
    return out;
  }

  /**
   * HEART_BEAT registration of one consumer group entry. `notify` = the group's
   * notifyConsumerIdsChangedEnable. Returns whether the channel set or the subscriptions changed.
   */
  registerConsumer(reg: ConsumerRegistration, notify = true): RegisterConsumerResult {
    if (reg.subscriptions && reg.subscriptions.length > this.maxSubscriptionsPerGroup) {
      return { accepted: false, reason: `too many subscriptions (${reg.subscriptions.length} > ${this.maxSubscriptionsPerGroup})` };
    }
    const now = this.clock.now();
    let info = this.groups.get(reg.group);
    if (!info) {
      if (this.groups.size >= this.maxGroups) return { accepted: false, reason: `too many consumer groups (max ${this.maxGroups})` };
      info = new ConsumerGroupInfo(reg.group, reg.consumeType, reg.messageModel, reg.consumeFromWhere, now);
      this.groups.set(reg.group, info);
    }
    if (!info.channelInfoTable.has(reg.channel.id) && info.channelInfoTable.size >= this.maxChannelsPerGroup) {
      return { accepted: false, reason: `too many consumers in group ${reg.group} (max ${this.maxChannelsPerGroup})` };
    }
    const channelChanged = info.updateChannel(
      { channel: reg.channel, clientId: reg.clientId, language: reg.language, version: reg.version, lastUpdateTimestamp: now },
      reg.consumeType,
      reg.messageModel,
      reg.consumeFromWhere,
    );
    this.indexChannel(reg.channel.id, reg.group);
    const subsChanged = reg.subscriptions ? info.updateSubscription(reg.subscriptions, now) : false;
    const changed = channelChanged || subsChanged;
    if (changed) {
      this.logger.info({ group: reg.group, clientId: reg.clientId, channelChanged, subsChanged }, 'consumer group changed');
      if (notify) this.fireChanged(reg.group, info);
    }
    return { accepted: true, changed };
  }

  /**
   * UNREGISTER_CLIENT: removes the client's channel (falling back to any channel of that client id)
   * from the group. Returns true when something was removed.
   */
  unregisterConsumer(group: string, channel: Channel, clientId: string, notify = true): boolean {
    const info = this.groups.get(group);
    if (!info) return false;
    let removed = this.removeFromGroup(info, channel.id);
    if (!removed) {
      for (const [channelId, ci] of [...info.channelInfoTable]) {
        if (ci.clientId === clientId) removed = this.removeFromGroup(info, channelId) || removed;
      }
    }
    if (!removed) return false;
    this.logger.info({ group, clientId }, 'consumer unregistered');
    this.afterRemoval(group, info, notify);
    return true;
  }

  /** The channel closed: drop it from every group it was in and tell the remaining members. */
  doChannelCloseEvent(channel: Channel): boolean {
    const groupNames = this.groupsByChannel.get(channel.id);
    if (!groupNames) return false;
    this.groupsByChannel.delete(channel.id);
    let removedAny = false;
    for (const group of groupNames) {
      const info = this.groups.get(group);
      if (!info || !info.removeChannel(channel.id)) continue;
      removedAny = true;
      this.logger.info({ group, channel: channel.remoteAddress }, 'consumer channel closed, removed from group');
      this.afterRemoval(group, info, true);
    }
    return removedAny;
  }

  /**
   * Drops channels not heard from for more than channelExpiredTimeoutMs (and channels already closed),
   * closes the expired ones, and notifies the affected groups. Returns the number of channels dropped.
   */
  scanNotActiveChannel(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [group, info] of [...this.groups]) {
      let groupChanged = false;
      for (const [channelId, ci] of [...info.channelInfoTable]) {
        const idleMs = now - ci.lastUpdateTimestamp;
        if (!ci.channel.closed && idleMs <= this.channelExpiredTimeoutMs) continue;
        this.removeFromGroup(info, channelId);
        groupChanged = true;
        dropped++;
        this.logger.warn({ group, clientId: ci.clientId, channel: ci.channel.remoteAddress, idleMs }, 'consumer channel expired, removed');
        if (!ci.channel.closed) ci.channel.close('consumer heartbeat expired');
      }
      if (groupChanged) this.afterRemoval(group, info, true);
    }
    return dropped;
  }

  private removeFromGroup(info: ConsumerGroupInfo, channelId: string): boolean {
    if (!info.removeChannel(channelId)) return false;
    const groups = this.groupsByChannel.get(channelId);
    if (groups) {
      groups.delete(info.groupName);
      if (groups.size === 0) this.groupsByChannel.delete(channelId);
    }
    return true;
  }

  private afterRemoval(group: string, info: ConsumerGroupInfo, notify: boolean): void {
    if (info.channelInfoTable.size === 0) {
      if (this.groups.get(group) === info) this.groups.delete(group);
      this.logger.info({ group }, 'consumer group has no members, removed');
      this.safeCall(() => this.listener?.onGroupUnregistered?.(group));
      return;
    }
    if (notify) this.fireChanged(group, info);
  }

  private indexChannel(channelId: string, group: string): void {
    let groups = this.groupsByChannel.get(channelId);
    if (!groups) {
      groups = new Set();
      this.groupsByChannel.set(channelId, groups);
    }
    groups.add(group);
  }

  private fireChanged(group: string, info: ConsumerGroupInfo): void {
    const channels = info.getAllChannels();
    this.safeCall(() => this.listener?.onConsumerIdsChanged(group, channels));
  }

  private safeCall(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'consumer ids change listener failed');
    }
  }
}
