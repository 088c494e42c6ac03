/**
 * What the broker's processors share: settings, the store, the managers and the advertised address.
 * The BrokerController builds one and hands it to every processor (a plain object, so specs can build
 * their own around a real store).
 */
import type { Clock } from '../common/clock';
import type { Logger } from '../common/logger';
import type { BrokerSettings } from '../config';
import type { HostAddress } from '../protocol/message-record';
import type { MessageStore } from '../store/types';
import type { ConsumerManager } from './client/consumer-manager';
import type { ConsumerOffsetManager } from './consumer-offset-manager';
import type { SubscriptionGroupManager } from './subscription-group-manager';
import type { TopicConfigManager } from './topic-config-manager';

export interface BrokerContext {
  readonly settings: BrokerSettings;
  readonly store: MessageStore;
  readonly topicConfigManager: TopicConfigManager;
  readonly subscriptionGroupManager: SubscriptionGroupManager;
  readonly consumerOffsetManager: ConsumerOffsetManager;
  readonly consumerManager: ConsumerManager;
  /** `brokerIP1:listenPort`, written as STOREHOST and used in offset message ids. */
  readonly storeHost: HostAddress;
  /** Delay per level in ms (index 0 = level 1), from `messageDelayLevel`. */
  readonly delayLevelsMs: readonly number[];
  readonly logger: Logger;
  readonly clock: Clock;
  /** `brokerPermission` (PermName bits; RW = 6). Writes are refused without WRITE, pulls without READ. */
  brokerPermission: number;
}
