export * from './protocol/index';
export * from './config';
export { BrokerController, messageStoreConfigOf, type BrokerControllerOptions } from './broker/broker-controller';
export { TopicConfigManager } from './broker/topic-config-manager';
export { SubscriptionGroupManager } from './broker/subscription-group-manager';
export { ConsumerOffsetManager } from './broker/consumer-offset-manager';
export { storeMessageWithRouting } from './broker/message-routing';
export type { BrokerContext } from './broker/broker-context';
export { NameServer } from './namesrv/name-server';
export { DefaultMessageStore } from './store/default-message-store';
export type * from './store/types';
// DLQ tools (issue 6): shared by `rocketry admin dlq*` and the framework's createDlqAdmin.
export {
  DlqAdmin,
  DLQ_ADMIN_GROUP,
  DLQ_LIST_DEFAULT_LIMIT,
  DLQ_PROPERTIES,
  DLQ_REASON_MAX_CHARS,
  type DeadLetter,
  type DlqGroupSummary,
  type DlqQueueState,
  type PurgeResult,
  type ReplayOutcome,
  type ReplayResult,
} from './cli/commands/dlq-admin';
export { CliError } from './cli/cli-error';
