/**
 * @rocketry/framework public API: the RocketMQ client (Producer, PushConsumer) and its building
 * blocks (client instance, typed MQClientAPI, message types, errors, instrumentation).
 */
export * from './client/index';
// Spring-style layer (issue 5): decorators, configuration, converters, template, listener container, embedded broker.
export * from './decorators/index';
export * from './config/index';
export * from './converter/index';
export * from './template/index';
export * from './listener/index';
export * from './embedded/index';
// Transactional messages (issue 4): @TransactionalProducer and the local transaction table.
export * from './transaction/index';
// Reliability (issue 6): async send retry with hand-off, and the transactional outbox.
export * from './retry/index';
export * from './outbox/index';
// Reliability toolkit (issue 6): dedup listener option, dead-letter hook, @DlqListener (in decorators), DLQ admin.
export * from './dedup/index';
export * from './dlq/index';
