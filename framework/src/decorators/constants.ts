/**
 * Metadata keys written by the framework's decorators and read by the listener explorer. They live in
 * this one file so every reader (the explorer, the NestJS and inversify starters) uses the same keys.
 * `Symbol.for` keeps them identical even if two copies of the package are loaded.
 */

/** On a class: `RocketListenerOptions[]` from class-level `@RocketListener` (handler = `onMessage`). */
export const ROCKET_LISTENER_CLASS_METADATA = Symbol.for('rocketry:listener:class');

/** On a method function (`descriptor.value`): `RocketListenerOptions[]` from method-level `@RocketListener`. */
export const ROCKET_LISTENER_METHOD_METADATA = Symbol.for('rocketry:listener:method');

/** On a class (its constructor): names of the methods carrying `@RocketListener` (own and inherited). */
export const ROCKET_LISTENER_METHODS_METADATA = Symbol.for('rocketry:listener:methods');

/** Name of the handler method of a class-level listener (rocketmq-spring's `RocketMQListener.onMessage`). */
export const CLASS_LISTENER_HANDLER = 'onMessage';
