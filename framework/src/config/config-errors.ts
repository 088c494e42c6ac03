/**
 * Errors of the framework layer (configuration, listener registration). They extend the client's
 * `MQClientError` (code ILLEGAL_ARGUMENT, not retriable) so the package keeps one error taxonomy.
 */
import { MQClientError } from '../client/errors';

/** A configuration key is unknown, or its value has the wrong type or range. */
export class RocketryConfigError extends MQClientError {
  constructor(message: string) {
    super('ILLEGAL_ARGUMENT', message);
    this.name = 'RocketryConfigError';
  }
}

/** A `@RocketListener` cannot be registered; the message names the class, method and option. */
export class RocketListenerRegistrationError extends MQClientError {
  constructor(
    readonly listener: string,
    readonly option: string | undefined,
    reason: string,
  ) {
    super('ILLEGAL_ARGUMENT', `@RocketListener on ${listener}${option ? `: option '${option}'` : ''}: ${reason}`);
    this.name = 'RocketListenerRegistrationError';
  }
}
