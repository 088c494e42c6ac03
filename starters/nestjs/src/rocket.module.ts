/**
 * `RocketModule.forRoot({ nameServer, producer: { group }, ... })` /
 * `RocketModule.forRootAsync({ imports, inject, useFactory })` (ConfigurableModuleBuilder; global by
 * default, `isGlobal: false` to scope it). Provides RocketTemplate (by its class), the listener
 * container (ROCKET_LISTENER_CONTAINER) and RocketHealthIndicator; discovers `@RocketListener`
 * handlers at bootstrap (rocket-listener.explorer.ts).
 */
import { Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { RocketListenerContainer, RocketTemplate } from '@rocketry/framework';
import { RocketHealthIndicator } from './rocket-health.indicator';
import { RocketListenerExplorer } from './rocket-listener.explorer';
import {
  ROCKET_MODULE_OPTIONS,
  RocketConfigurableModule,
  resolveRocketModuleOptions,
  type ResolvedRocketModuleOptions,
  type RocketModuleOptions,
} from './rocket-module-options';
import { ROCKET_LISTENER_CONTAINER, ROCKET_RESOLVED_CONFIG } from './rocket.constants';

const providers: Provider[] = [
  {
    provide: ROCKET_RESOLVED_CONFIG,
    inject: [ROCKET_MODULE_OPTIONS],
    useFactory: (options: RocketModuleOptions) => resolveRocketModuleOptions(options),
  },
  {
    provide: ROCKET_LISTENER_CONTAINER,
    inject: [ROCKET_RESOLVED_CONFIG],
    useFactory: (r: ResolvedRocketModuleOptions) =>
      new RocketListenerContainer({
        config: r.config,
        converter: r.converter,
        ...(r.logger ? { logger: r.logger } : {}),
        ...(r.consumerOptions ? { consumerOptions: r.consumerOptions } : {}),
      }),
  },
  {
    // rocketmq-spring creates RocketMQTemplate only with rocketmq.producer.group; here the token then holds undefined.
    provide: RocketTemplate,
    inject: [ROCKET_RESOLVED_CONFIG],
    useFactory: (r: ResolvedRocketModuleOptions): RocketTemplate | undefined =>
      r.config.producer.group && r.config.nameServer
        ? RocketTemplate.fromConfig(r.config, { converter: r.converter, ...(r.logger ? { producer: { logger: r.logger } } : {}) })
        : undefined,
  },
  { provide: RocketListenerExplorer, useClass: RocketListenerExplorer },
  { provide: RocketHealthIndicator, useClass: RocketHealthIndicator },
];

@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [RocketTemplate, RocketHealthIndicator, ROCKET_LISTENER_CONTAINER, ROCKET_RESOLVED_CONFIG],
})
export class RocketModule extends RocketConfigurableModule {}
