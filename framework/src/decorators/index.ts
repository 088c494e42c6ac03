export * from './constants';
export * from './rocket-listener-options';
export { RocketListener, rocketListenerClasses } from './rocket-listener.decorator';
export { DlqListener, dlqListenerOptions, DLQ_LISTENER_DEFAULTS, type DlqListenerOptions } from './dlq-listener.decorator';
