export { NameServer, type NameServerOptions } from './name-server';
export {
  RouteInfoManager,
  MASTER_ID,
  type RouteInfoManagerOptions,
  type RegisterBrokerInput,
  type RegisterBrokerResult,
  type RegisteredTopicConfig,
} from './route-info-manager';
export { KvConfigManager, NAMESPACE_ORDER_TOPIC_CONFIG } from './kv-config-manager';
export {
  NamesrvRegistrar,
  DEFAULT_REGISTER_TIMEOUT_MS,
  type BrokerIdentity,
  type NamesrvRegistrarOptions,
  type RegistrationOutcome,
} from './broker-registration-client';
