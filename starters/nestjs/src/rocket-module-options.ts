/**
 * Options of `RocketModule.forRoot` / `forRootAsync`. The framework's configuration
 * (`nameServer`, `producer`, `consumer`, `properties`, `env`: rocketmq-spring property names, table in
 * framework/src/config/rocketry-config.ts) plus the Nest-side extras below, validated once when the
 * module is instantiated: an unknown key fails with "unknown RocketModule option ... (did you mean ...?)".
 */
import { ConfigurableModuleBuilder } from '@nestjs/common';
import {
  DefaultMessageConverter,
  resolveRocketryConfig,
  RocketryConfigError,
  suggest,
  type Logger,
  type MessageConverter,
  type PushConsumerOptions,
  type RocketryConfig,
  type RocketryOptions,
} from '@rocketry/framework';

export interface RocketModuleOptions extends RocketryOptions {
  /** Payload converter for RocketTemplate and every listener. @defaultValue DefaultMessageConverter (JSON / text / bytes) */
  converter?: MessageConverter;
  /**
   * Bound of the drain at shutdown for every consumer (ms). @defaultValue each listener group's
   * `awaitTerminationMillisWhenShutdown` (1000)
   */
  awaitTerminationMs?: number;
  /** Extra PushConsumer options for every listener consumer (tuning, tests). @defaultValue none */
  consumerOptions?: Partial<Omit<PushConsumerOptions, 'group' | 'namesrvAddr'>>;
  /** Discover `@RocketListener` methods on controllers too, not only providers. @defaultValue true */
  discoverControllers?: boolean;
  /** pino logger for the client internals (Nest's Logger prints the boot and shutdown lines). @defaultValue silent */
  logger?: Logger;
}

/** Extras accepted by `forRoot` / `forRootAsync` besides the options (Nest module definition). */
export interface RocketModuleExtras {
  /** Register the module globally so any module can inject RocketTemplate. @defaultValue true */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: RocketConfigurableModule,
  MODULE_OPTIONS_TOKEN: ROCKET_MODULE_OPTIONS,
  OPTIONS_TYPE: ROCKET_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: ROCKET_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RocketModuleOptions>({ moduleName: 'Rocket' })
  .setClassMethodName('forRoot')
  .setExtras<RocketModuleExtras>({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal ?? true }))
  .build();

/** Options after validation: the framework configuration plus the Nest-side settings. */
export interface ResolvedRocketModuleOptions {
  config: RocketryConfig;
  converter: MessageConverter;
  awaitTerminationMs: number | undefined;
  consumerOptions: RocketModuleOptions['consumerOptions'];
  discoverControllers: boolean;
  logger: Logger | undefined;
}

const FRAMEWORK_KEYS = ['nameServer', 'producer', 'consumer', 'properties', 'env'] as const;
const NEST_KEYS = ['converter', 'awaitTerminationMs', 'consumerOptions', 'discoverControllers', 'logger'] as const;
const KNOWN_KEYS: readonly string[] = [...FRAMEWORK_KEYS, ...NEST_KEYS];

/** Validates the module options; throws RocketryConfigError naming the bad key. */
export function resolveRocketModuleOptions(options: RocketModuleOptions | undefined): ResolvedRocketModuleOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new RocketryConfigError('RocketModule options must be an object ({ nameServer, producer: { group }, ... })');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.includes(key)) {
      throw new RocketryConfigError(`unknown RocketModule option '${key}'${suggest(key, KNOWN_KEYS)}; known: ${KNOWN_KEYS.join(', ')}`);
    }
  }
  const { converter, awaitTerminationMs, consumerOptions, discoverControllers, logger, ...frameworkOptions } = options;
  if (awaitTerminationMs !== undefined && (!Number.isInteger(awaitTerminationMs) || awaitTerminationMs < 0)) {
    throw new RocketryConfigError(`RocketModule option awaitTerminationMs must be an integer >= 0, got ${JSON.stringify(awaitTerminationMs)}`);
  }
  if (converter !== undefined && (typeof converter.fromMessage !== 'function' || typeof converter.toMessageBody !== 'function')) {
    throw new RocketryConfigError('RocketModule option converter must implement toMessageBody(payload) and fromMessage(message, payloadType)');
  }
  // Keys were checked above; the framework validates nested keys, types and ranges.
  const config = resolveRocketryConfig(frameworkOptions);
  return {
    config,
    converter: converter ?? new DefaultMessageConverter(),
    awaitTerminationMs,
    consumerOptions,
    discoverControllers: discoverControllers ?? true,
    logger,
  };
}
