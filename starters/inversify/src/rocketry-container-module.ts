/**
 * `createRocketryContainerModule(options)`: an inversify ContainerModule binding (all singletons)
 *
 *   ROCKETRY_CONFIG            resolved configuration (rocketmq-spring names; options + environment)
 *   ROCKETRY_MESSAGE_CONVERTER the MessageConverter
 *   Producer                   the template's producer (only when name-server and producer.group are set,
 *                              as rocketmq-spring creates its producer bean)
 *   RocketTemplate             (same condition)
 *   RocketListenerContainer    turns listeners into PushConsumers
 *   Rocketry                   lifecycle: `await container.get(Rocketry).start(container)`, `stop()`
 *
 * Unbinding (`await container.unbindAll()`) stops Rocketry gracefully.
 */
import { ContainerModule } from 'inversify';
import {
  DefaultMessageConverter,
  Producer,
  producerOptionsFromConfig,
  resolveRocketryConfig,
  RocketListenerContainer,
  RocketTemplate,
  type Logger,
  type MessageConverter,
  type ProducerOptions,
  type PushConsumerOptions,
  type RocketryConfig,
  type RocketryOptions,
  type TransactionMessageSender,
} from '@rocketry/framework';
import { Rocketry, type RocketryLifecycleOptions } from './rocketry';
import { ROCKETRY_CONFIG, ROCKETRY_MESSAGE_CONVERTER, ROCKETRY_MODULE_OPTIONS } from './tokens';

export interface RocketryInversifyOptions extends RocketryOptions, RocketryLifecycleOptions {
  converter?: MessageConverter;
  /** @defaultValue silent */
  logger?: Logger;
  /** Extra client options of the template's producer. */
  producerOptions?: Partial<ProducerOptions>;
  /** Extra PushConsumer options for every listener consumer. */
  consumerOptions?: Partial<Omit<PushConsumerOptions, 'group' | 'namesrvAddr'>>;
  /** Used by `RocketTemplate.sendMessageInTransaction`. */
  transactionProducer?: TransactionMessageSender;
}

const STARTER_KEYS = ['converter', 'logger', 'producerOptions', 'consumerOptions', 'transactionProducer', 'listeners', 'awaitTerminationMs'] as const;

export function createRocketryContainerModule(options: RocketryInversifyOptions = {}): ContainerModule {
  const starterOnly: Record<string, unknown> = {};
  const rocketryOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) ((STARTER_KEYS as readonly string[]).includes(k) ? starterOnly : rocketryOptions)[k] = v;
  // Validate now, so a bad key fails at `container.load`, not at first use.
  const config = resolveRocketryConfig(rocketryOptions as RocketryOptions);
  const logger = options.logger;
  const converter = options.converter ?? new DefaultMessageConverter();
  const hasProducer = config.nameServer !== undefined && (config.producer.group !== undefined || options.producerOptions?.group !== undefined);

  return new ContainerModule(({ bind }) => {
    bind(ROCKETRY_MODULE_OPTIONS).toConstantValue(options);
    bind<RocketryConfig>(ROCKETRY_CONFIG).toConstantValue(config);
    bind<MessageConverter>(ROCKETRY_MESSAGE_CONVERTER).toConstantValue(converter);
    if (hasProducer) {
      bind(Producer)
        .toDynamicValue(() => new Producer({ ...(logger ? { logger } : {}), ...producerOptionsFromConfig(config, options.producerOptions) }))
        .inSingletonScope();
      bind(RocketTemplate)
        .toDynamicValue((ctx) => {
          const t = new RocketTemplate({ producer: ctx.get(Producer), converter, ownsProducer: true });
          if (options.transactionProducer) t.setTransactionProducer(options.transactionProducer);
          return t;
        })
        .inSingletonScope();
    }
    bind(RocketListenerContainer)
      .toDynamicValue(() => new RocketListenerContainer({ config, converter, ...(logger ? { logger } : {}), ...(options.consumerOptions ? { consumerOptions: options.consumerOptions } : {}) }))
      .inSingletonScope();
    bind(Rocketry)
      .toDynamicValue(
        (ctx) =>
          new Rocketry(
            ctx.get(RocketListenerContainer),
            hasProducer ? ctx.get(RocketTemplate) : undefined,
            { ...(options.listeners ? { listeners: options.listeners } : {}), ...(options.awaitTerminationMs !== undefined ? { awaitTerminationMs: options.awaitTerminationMs } : {}) },
            logger,
          ),
      )
      .inSingletonScope()
      .onDeactivation((r) => r.stop());
  });
}
