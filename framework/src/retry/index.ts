/** Backoff, async send retry with a hand-off (e.g. to the outbox), and the typed event hub they share. */
export * from './backoff';
export * from './typed-events';
export * from './message-identity';
export * from './async-send-retry';
