/**
 * Tokens and names of the NestJS starter, in one place. The listener metadata keys themselves live in
 * `@rocketry/framework` (decorators only write metadata; the framework's explorer reads it).
 */

/** `ExecutionContext.getType()` inside a Rocketry handler (guards, interceptors, filters). */
export const ROCKET_CONTEXT_TYPE = 'rocketmq';

/** Injection token of the listener container that runs the discovered handlers. */
export const ROCKET_LISTENER_CONTAINER = Symbol.for('rocketry:nestjs:listener-container');

/** Injection token of the resolved framework configuration (after env + validation). */
export const ROCKET_RESOLVED_CONFIG = Symbol.for('rocketry:nestjs:resolved-config');

/** Injection token of the embedded broker started by `RocketTestingModule`. */
export const ROCKET_EMBEDDED_BROKER = Symbol.for('rocketry:nestjs:embedded-broker');

/** Logger context used for boot and shutdown lines. */
export const ROCKET_LOGGER_CONTEXT = 'RocketModule';
