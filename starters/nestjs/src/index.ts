/**
 * @rocketry/nestjs: RocketModule for NestJS. Re-exports the framework's `@RocketListener`,
 * `RocketTemplate` and listener types, so an app imports everything from here.
 */
import 'reflect-metadata';

export {
  RocketListener,
  RocketTemplate,
  RocketListenerContainer,
  RocketListenerRegistrationError,
  RocketryConfigError,
  DefaultMessageConverter,
  startEmbeddedBroker,
  type RocketListenerOptions,
  type RocketSendOptions,
  type MessageConverter,
  type MessageExt,
  type ConsumeContext,
  type ConsumeStatus,
  type SendResult,
  type EmbeddedBroker,
  type EmbeddedBrokerOptions,
  type RocketListenerHealth,
  type RegisteredListener,
} from '@rocketry/framework';
export * from './rocket.constants';
export * from './rocket-context';
export * from './rocket-params.decorator';
export { RocketModule } from './rocket.module';
export {
  ROCKET_MODULE_OPTIONS,
  resolveRocketModuleOptions,
  type RocketModuleOptions,
  type RocketModuleExtras,
  type ResolvedRocketModuleOptions,
} from './rocket-module-options';
export { RocketListenerExplorer } from './rocket-listener.explorer';
export { RocketHealthIndicator, type RocketHealthResult, type RocketHealthDetails } from './rocket-health.indicator';
export { RocketTestingModule, type RocketTestingModuleOptions } from './rocket-testing.module';
