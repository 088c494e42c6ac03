/**
 * Injection tokens of the inversify starter. Classes are their own tokens (`RocketTemplate`,
 * `Producer`, `RocketListenerContainer`, `Rocketry`); the rest are symbols. Inject them explicitly
 * (`@inject(RocketTemplate)`): esbuild (tsx, vitest) emits no `design:paramtypes`.
 */

/** The resolved `RocketryConfig` (rocketmq-spring property names). */
export const ROCKETRY_CONFIG = Symbol.for('rocketry:inversify:config');
/** The `MessageConverter` shared by the template and the listeners. */
export const ROCKETRY_MESSAGE_CONVERTER = Symbol.for('rocketry:inversify:message-converter');
/** The starter options as given. */
export const ROCKETRY_MODULE_OPTIONS = Symbol.for('rocketry:inversify:options');
