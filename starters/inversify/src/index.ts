/**
 * @rocketry/inversify: Rocketry in an inversify container (plain Node). Re-exports the framework's
 * decorators and template so an app needs one import.
 */
export { createRocketryContainerModule, type RocketryInversifyOptions } from './rocketry-container-module';
export { Rocketry, type RocketryLifecycleOptions } from './rocketry';
export * from './tokens';
export {
  RocketListener,
  RocketTemplate,
  RocketListenerContainer,
  Producer,
  startEmbeddedBroker,
  type RocketListenerOptions,
  type RocketSendOptions,
  type MessageExt,
  type EmbeddedBroker,
  type RocketListenerHealth,
} from '@rocketry/framework';
